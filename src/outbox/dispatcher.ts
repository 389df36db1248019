/**
 * Delivers outbox rows to the vendors, at any backlog.
 *
 * Work is scheduled per lane, one (workspace, vendor): a discovery pass every `pollMs` probes
 * each workspace's queues by index (no locks, one workspace per statement) and notes when each
 * lane next has a head due. Workers take due lanes, the least served first, so a workspace with
 * a huge backlog or a pause never holds back another's fresh rows, while several workers on one
 * busy lane keep claims, sends and finishes overlapping. Each batch is claimed under a lease
 * (committed at once, so no transaction waits on the network), sent a few requests at a time,
 * and finished in one statement. Stopping cancels requests in flight and releases their rows.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';

import type { Logger } from 'pino';
import { RateLimiterDrizzle, RateLimiterRes } from 'rate-limiter-flexible';

import type { Db } from '../db/client.js';
import { rateLimits } from '../db/rate-limits.sql.js';
import { mapLimited } from '../lib/map-limited.js';
import { maskEmails, safeError } from '../log.js';
import { deliverBatch, type BatchContext, type WorkspaceVendors } from './deliver-batch.js';
import { VENDOR_NAMES, type VendorName } from './message.js';
import { OutcomePolicy } from './outcomes.js';
import type { DeliveryStatusValue } from './outbox.sql.js';
import {
  QueueRepository,
  type ClaimedRow,
  type Lane,
  type RowOutcome,
} from './queue-repository.js';
import { OutboxRetention, type RetentionOptions } from './retention.js';

export interface DispatcherOptions extends RetentionOptions {
  /** Rows claimed at once from one lane. */
  readonly batchSize: number;
  readonly leaseMs: number;
  /** How often the queues are probed for due rows. */
  readonly pollMs: number;
  readonly requestTimeoutMs: number;
  readonly maxAttempts: number;
  readonly maxAgeMs: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** Braze allows 20,000 requests a minute per workspace for identify/alias/merge/delete. */
  readonly brazeRequestsPerMinute: number;
  /** Batches in flight at once in this process. */
  readonly workers: number;
  /** Vendor requests in flight at once for one batch. */
  readonly requestsInFlight: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

export const DEFAULT_DISPATCHER_OPTIONS: DispatcherOptions = {
  batchSize: 250,
  leaseMs: 120_000,
  pollMs: 250,
  requestTimeoutMs: 10_000,
  maxAttempts: 12,
  maxAgeMs: DAY_MS,
  backoffBaseMs: 1_000,
  backoffMaxMs: 5 * 60 * 1000,
  brazeRequestsPerMinute: 20_000,
  workers: 3,
  requestsInFlight: 4,
  retentionMs: 7 * DAY_MS,
  deadRetentionMs: 30 * DAY_MS,
  retentionIntervalMs: 60_000,
  retentionBatchSize: 1_000,
};

/** What the dispatcher reports as it goes (metrics, tests). */
export interface DispatcherObserver {
  finished?(vendor: VendorName, status: DeliveryStatusValue): void;
  claimed?(seconds: number): void;
  removed?(rows: number): void;
  /** A discovery pass (every workspace probed) has finished. */
  discovered?(): void;
}

export interface DispatcherDeps {
  readonly clock?: () => Date;
  readonly random?: () => number;
  readonly observer?: DispatcherObserver;
  /**
   * Other retention run by the same periodic pass, one workspace at a time: deletes up to
   * `limit` expired rows and returns how many (expired idempotency records).
   */
  readonly sweep?: (workspaceId: string, now: Date, limit: number) => Promise<number>;
}

const FINAL = new Set<DeliveryStatusValue>(['DELIVERED', 'DEAD', 'SKIPPED']);

interface Slot extends Lane {
  readonly key: string;
  /** When the lane next has a head due (Infinity: not known to have any). */
  dueAt: number;
  /** Workers serving it right now. */
  active: number;
  servedAt: number;
  /**
   * Rows already leased to this dispatcher, promoted by the finish of the heads before them:
   * the next worker on the lane sends them without claiming them again.
   */
  ready: ClaimedRow[];
  /** When the lease of the oldest ready row ends. */
  readyUntil: number;
}

export class Dispatcher {
  readonly owner = `dispatcher-${randomUUID()}`;
  private readonly queue: QueueRepository;
  private readonly policy: OutcomePolicy;
  private readonly retention: OutboxRetention;
  private readonly brazeBudget: RateLimiterDrizzle;
  /** Mixpanel's GDPR API takes one request per second per project (a workspace has one). */
  private readonly gdprBudget: RateLimiterDrizzle;
  private readonly clock: () => Date;
  private readonly observer: DispatcherObserver;
  private readonly sweep: DispatcherDeps['sweep'];
  private readonly stopping = new AbortController();
  private readonly slots = new Map<string, Slot>();
  /** Rows this dispatcher holds and has not finished, by lane key: released on stop. */
  private readonly held = new Map<string, Set<number>>();
  private settings = new Map<string, WorkspaceVendors>();
  private loops: Promise<void>[] = [];
  private readonly sleepers = new Set<() => void>();

  constructor(
    db: Db,
    private readonly logger: Logger,
    private readonly options: DispatcherOptions = DEFAULT_DISPATCHER_OPTIONS,
    deps: DispatcherDeps = {},
  ) {
    this.clock = deps.clock ?? (() => new Date());
    this.observer = deps.observer ?? {};
    this.sweep = deps.sweep;
    this.queue = new QueueRepository(db);
    this.policy = new OutcomePolicy(options, this.clock, deps.random ?? Math.random);
    this.retention = new OutboxRetention(this.queue, options, this.clock, this.stopping.signal);
    this.brazeBudget = new RateLimiterDrizzle({
      storeClient: db,
      schema: rateLimits,
      keyPrefix: 'braze-identity',
      points: options.brazeRequestsPerMinute,
      duration: 60,
      clearExpiredByTimeout: false,
    });
    this.gdprBudget = new RateLimiterDrizzle({
      storeClient: db,
      schema: rateLimits,
      keyPrefix: 'mixpanel-gdpr',
      points: 1,
      duration: 1,
      clearExpiredByTimeout: false,
    });
  }

  start(): void {
    if (this.loops.length > 0) return;
    this.loops = [
      this.every(this.options.pollMs, () => this.discover(), 'outbox discovery failed'),
      this.every(this.options.retentionIntervalMs, () => this.retain(), 'outbox retention failed'),
      ...Array.from({ length: this.options.workers }, () => this.work()),
    ];
  }

  /** Stops claiming, cancels requests in flight, and releases the rows still held. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.all(this.loops);
    this.loops = [];
    for (const [key, ids] of this.held) {
      const [workspaceId, vendor] = key.split('\u0001') as [string, VendorName];
      try {
        await this.queue.release({ workspaceId, vendor }, [...ids], this.owner, this.clock());
      } catch (error) {
        this.logger.error({ err: safeError(error) }, 'could not release claimed deliveries');
      }
    }
    this.held.clear();
    for (const slot of this.slots.values()) slot.ready = [];
  }

  /**
   * Tells the dispatcher that a workspace has new deliveries (this process committed them), so
   * they need not wait for the next discovery.
   */
  nudge(workspaceId: string): void {
    if (this.loops.length === 0) return;
    const now = this.clock().getTime();
    for (const vendor of VENDOR_NAMES) {
      const slot = this.slot({ workspaceId, vendor });
      slot.dueAt = Math.min(slot.dueAt, now);
    }
    this.wakeWorkers();
  }

  /** One discovery, then one batch from every lane that is due; returns rows finished (tests). */
  async runOnce(): Promise<number> {
    await this.discover();
    const now = this.clock().getTime();
    let finished = 0;
    for (const slot of [...this.slots.values()].filter((s) => s.dueAt <= now)) {
      finished += await this.serve(slot);
    }
    return finished;
  }

  /** Deletes finished rows past their retention; returns how many (also run every interval). */
  async retain(): Promise<number> {
    const ids = this.settings.size > 0 ? [...this.settings.keys()] : await this.workspaceIds();
    const removed = await this.retention.run(ids);
    if (removed > 0) this.observer.removed?.(removed);
    if (this.sweep) {
      const limit = this.options.retentionBatchSize;
      for (const id of ids) {
        while (
          !this.stopping.signal.aborted &&
          (await this.sweep(id, this.clock(), limit)) === limit
        );
      }
    }
    return removed;
  }

  /** Notes, for every lane, when its next head is due (and how long it is paused). */
  private async discover(): Promise<void> {
    const list = await this.queue.workspaces();
    this.settings = new Map(list.map((w) => [w.id, w]));
    const probes = await mapLimited(list, 16, (w) => this.queue.probe(w.id));
    const seen = new Set<string>();
    list.forEach((w, i) => {
      for (const vendor of VENDOR_NAMES) {
        const { dueAt, pausedUntil } = probes[i][vendor];
        if (dueAt === null) continue;
        const slot = this.slot({ workspaceId: w.id, vendor });
        slot.dueAt = Math.max(dueAt, pausedUntil ?? dueAt);
        if (slot.ready.length > 0) slot.dueAt = Math.min(slot.dueAt, this.clock().getTime());
        seen.add(slot.key);
      }
    });
    for (const [key, slot] of this.slots) {
      if (!seen.has(key) && slot.active === 0 && slot.ready.length === 0) this.slots.delete(key);
    }
    this.observer.discovered?.();
    this.wakeWorkers();
  }

  private async work(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      const now = this.clock().getTime();
      const slot = this.next(now);
      if (slot) {
        await this.serve(slot);
        continue;
      }
      const soonest = Math.min(...[...this.slots.values()].map((s) => s.dueAt));
      await this.sleep(Math.min(Math.max(soonest - now, 1), this.options.pollMs), true);
    }
  }

  /**
   * The due lane with the fewest workers on it, then the one served longest ago. A lane that is
   * already served gets another worker only while one more stays free, so a lane nobody serves
   * (a workspace's fresh rows) never waits for another lane's batches, even slow ones.
   */
  private next(now: number): Slot | null {
    let busy = 0;
    for (const s of this.slots.values()) busy += s.active;
    let best: Slot | null = null;
    for (const s of this.slots.values()) {
      if (s.dueAt > now) continue;
      if (s.active > 0 && busy + 1 >= this.options.workers) continue;
      if (
        !best ||
        s.active < best.active ||
        (s.active === best.active && s.servedAt < best.servedAt)
      ) {
        best = s;
      }
    }
    return best;
  }

  /**
   * Sends one batch of a lane and records the outcomes; returns rows finished. The batch is the
   * rows the lane has ready (leased by an earlier finish), topped up by a claim.
   */
  private async serve(slot: Slot): Promise<number> {
    slot.active++;
    slot.servedAt = this.clock().getTime();
    try {
      const { batchSize, leaseMs } = this.options;
      const ready = slot.ready.splice(0, batchSize);
      let leaseEnd = ready.length > 0 ? slot.readyUntil : this.clock().getTime() + leaseMs;
      let rows = ready;
      if (ready.length < batchSize) {
        const started = performance.now();
        const now = this.clock();
        const claimed = await this.queue.claim(
          slot,
          this.owner,
          batchSize - ready.length,
          leaseMs,
          now,
        );
        this.observer.claimed?.((performance.now() - started) / 1000);
        if (claimed.length < batchSize - ready.length) slot.dueAt = Infinity;
        this.hold(
          slot.key,
          claimed.map((r) => r.id),
        );
        if (claimed.length > 0) leaseEnd = Math.min(leaseEnd, now.getTime() + leaseMs);
        rows = [...ready, ...claimed].sort((a, b) => a.id - b.id);
      }
      if (slot.ready.length > 0) slot.dueAt = this.clock().getTime();
      if (rows.length === 0) return 0;
      const ids = rows.map((r) => r.id);
      const result = await deliverBatch(
        this.batchContext(slot, ids, leaseEnd),
        slot,
        rows,
        await this.settingsOf(slot.workspaceId),
      );
      if (result.pausedUntil !== null) slot.dueAt = Math.max(slot.dueAt, result.pausedUntil);
      const promoted = await this.record(slot, result, ids);
      if (promoted && result.pausedUntil === null) slot.dueAt = this.clock().getTime();
      this.report(slot, result.outcomes);
      return result.outcomes.length;
    } catch (error) {
      // Rows stay leased and come back when the lease ends; the lane is tried again later.
      this.logger.error({ err: safeError(error), vendor: slot.vendor }, 'outbox batch failed');
      slot.dueAt = this.clock().getTime() + this.options.pollMs;
      return 0;
    } finally {
      slot.active--;
    }
  }

  /**
   * Finishes what was decided and releases what was not sent; true when a queue moved on. Unless
   * the lane was paused or the dispatcher is stopping, the rows promoted behind finished heads
   * come back leased, ready for the lane's next batch.
   */
  private async record(
    slot: Slot,
    result: { outcomes: RowOutcome[]; unsent: number[]; pausedUntil: number | null },
    ids: readonly number[],
  ): Promise<boolean> {
    const now = this.clock();
    const lease =
      result.pausedUntil === null && !this.stopping.signal.aborted
        ? { owner: this.owner, until: new Date(now.getTime() + this.options.leaseMs) }
        : null;
    const next = await this.queue.finish(slot, this.owner, result.outcomes, now, lease);
    await this.queue.release(slot, result.unsent, this.owner, now);
    this.unhold(slot.key, ids);
    if (next.length > 0 && lease) {
      this.hold(
        slot.key,
        next.map((r) => r.id),
      );
      if (slot.ready.length === 0) slot.readyUntil = lease.until.getTime();
      slot.ready.push(...next);
    }
    return result.outcomes.some((o) => FINAL.has(o.status));
  }

  private report(slot: Slot, outcomes: readonly RowOutcome[]): void {
    for (const o of outcomes) {
      this.observer.finished?.(slot.vendor, o.status);
      if (o.status === 'DEAD') {
        this.logger.warn(
          {
            deliveryId: o.id,
            workspaceId: slot.workspaceId,
            vendor: slot.vendor,
            error: maskEmails(o.lastError ?? ''),
          },
          'delivery dead',
        );
      }
    }
  }

  private batchContext(lane: Lane, ids: readonly number[], leaseEnd: number): BatchContext {
    let renewing: Promise<ReadonlySet<number>> | null = null;
    let kept: ReadonlySet<number> = new Set(ids);
    return {
      policy: this.policy,
      logger: this.logger,
      clock: this.clock,
      signal: this.stopping.signal,
      requestTimeoutMs: this.options.requestTimeoutMs,
      requestsInFlight: this.options.requestsInFlight,
      takeBrazeBudget: (workspaceId, n) => this.take(this.brazeBudget, workspaceId, n),
      takeGdprBudget: (workspaceId) => this.take(this.gdprBudget, workspaceId, 1),
      pause: (l, until, reason) => this.queue.pause(l, until, reason),
      // One renewal at a time covers every row of the batch.
      holdFor: async (_rowIds, ms) => {
        while (renewing) await renewing;
        const now = this.clock().getTime();
        if (leaseEnd - now >= ms) return kept;
        const until = now + Math.max(this.options.leaseMs, ms);
        renewing = this.queue
          .renew(lane, [...kept], this.owner, new Date(until))
          .then((still) => new Set(still));
        try {
          kept = await renewing;
          leaseEnd = until;
        } finally {
          renewing = null;
        }
        return kept;
      },
    };
  }

  /** Milliseconds until `points` more fit the workspace's budget (0: taken now). */
  private async take(budget: RateLimiterDrizzle, workspaceId: string, points: number) {
    try {
      await budget.consume(workspaceId, points);
      return 0;
    } catch (error) {
      if (error instanceof RateLimiterRes) return Math.max(error.msBeforeNext, 1);
      throw error;
    }
  }

  private slot(lane: Lane): Slot {
    const key = `${lane.workspaceId}\u0001${lane.vendor}`;
    let slot = this.slots.get(key);
    if (!slot) {
      slot = { ...lane, key, dueAt: Infinity, active: 0, servedAt: 0, ready: [], readyUntil: 0 };
      this.slots.set(key, slot);
    }
    return slot;
  }

  private hold(key: string, ids: readonly number[]): void {
    const set = this.held.get(key) ?? new Set<number>();
    for (const id of ids) set.add(id);
    this.held.set(key, set);
  }

  private unhold(key: string, ids: readonly number[]): void {
    const set = this.held.get(key);
    if (!set) return;
    for (const id of ids) set.delete(id);
    if (set.size === 0) this.held.delete(key);
  }

  /** A workspace's vendor settings as of the last discovery, or read now if it is newer. */
  private async settingsOf(workspaceId: string): Promise<WorkspaceVendors | null> {
    const known = this.settings.get(workspaceId);
    if (known) return known;
    const [row] = await this.queue.workspaces(workspaceId);
    if (row) this.settings.set(workspaceId, row);
    return row ?? null;
  }

  private async workspaceIds(): Promise<string[]> {
    return (await this.queue.workspaces()).map((w) => w.id);
  }

  private async every(ms: number, task: () => Promise<unknown>, failure: string): Promise<void> {
    while (!this.stopping.signal.aborted) {
      try {
        await task();
      } catch (error) {
        if (!this.stopping.signal.aborted) this.logger.error({ err: safeError(error) }, failure);
      }
      await this.sleep(ms);
    }
  }

  /** Waits `ms`, or less when stopping, or (for idle workers) when a discovery found work. */
  private sleep(ms: number, wakeable = false): Promise<void> {
    const { signal } = this.stopping;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done);
      if (wakeable) this.sleepers.add(done);
    });
  }

  private wakeWorkers(): void {
    for (const wake of [...this.sleepers]) wake();
  }
}
