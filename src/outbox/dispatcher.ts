/**
 * Delivers outbox rows to the vendors. Each cycle claims due rows under a lease (committed at
 * once, so no transaction waits on the network), sends them batched per workspace and vendor,
 * classifies every answer, and records the outcome per row: delivered, retried with backoff and
 * jitter, paused with its workspace+vendor when throttled, or dead.
 */
import { randomUUID } from 'node:crypto';

import type { Logger } from 'pino';
import { RateLimiterDrizzle, RateLimiterRes } from 'rate-limiter-flexible';

import type { BrazeSettings, MixpanelSettings } from '../config/config.js';
import type { Db } from '../db/client.js';
import { rateLimits } from '../db/rate-limits.sql.js';
import {
  brazePauseMs,
  buildBrazeRequests,
  classifyBrazeResponse,
} from '../vendors/braze/to-braze.js';
import {
  buildMixpanelRequests,
  classifyMixpanelResponse,
} from '../vendors/mixpanel/to-mixpanel.js';
import { maskEmails, safeError } from '../log.js';
import { sendVendorRequest } from '../vendors/send.js';
import type {
  Classification,
  OutboxItem,
  VendorName,
  VendorRequest,
  VendorResponse,
} from './message.js';
import { OutboxRepository, type OutboxRow, type RowOutcome } from './outbox-repository.js';

export interface DispatcherOptions {
  /** Rows claimed per cycle. */
  readonly batchSize: number;
  readonly leaseMs: number;
  readonly pollMs: number;
  readonly requestTimeoutMs: number;
  readonly maxAttempts: number;
  readonly maxAgeMs: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** Braze allows 20,000 requests a minute per workspace for identify/alias/merge/delete. */
  readonly brazeRequestsPerMinute: number;
}

export const DEFAULT_DISPATCHER_OPTIONS: DispatcherOptions = {
  batchSize: 500,
  leaseMs: 120_000,
  pollMs: 250,
  requestTimeoutMs: 10_000,
  maxAttempts: 12,
  maxAgeMs: 24 * 60 * 60 * 1000,
  backoffBaseMs: 1_000,
  backoffMaxMs: 5 * 60 * 1000,
  brazeRequestsPerMinute: 20_000,
};

interface VendorAdapter<S> {
  settings(workspace: { mixpanel: MixpanelSettings | null; braze: BrazeSettings | null }): S | null;
  build(items: readonly OutboxItem[], settings: S): VendorRequest[];
  classify(request: VendorRequest, response: VendorResponse, nowMs: number): Classification;
  pauseMs(response: VendorResponse, nowMs: number): number | null;
}

const ADAPTERS: {
  [V in VendorName]: VendorAdapter<V extends 'BRAZE' ? BrazeSettings : MixpanelSettings>;
} = {
  BRAZE: {
    settings: (w) => w.braze,
    build: buildBrazeRequests,
    classify: classifyBrazeResponse,
    pauseMs: brazePauseMs,
  },
  MIXPANEL: {
    settings: (w) => w.mixpanel,
    build: buildMixpanelRequests,
    classify: classifyMixpanelResponse,
    pauseMs: () => null,
  },
};

export class Dispatcher {
  readonly owner = `dispatcher-${randomUUID()}`;
  private readonly repo: OutboxRepository;
  private readonly brazeBudget: RateLimiterDrizzle;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;

  constructor(
    db: Db,
    private readonly logger: Logger,
    private readonly options: DispatcherOptions = DEFAULT_DISPATCHER_OPTIONS,
    private readonly clock: () => Date = () => new Date(),
    private readonly random: () => number = Math.random,
    /** Told the outcome of every row this dispatcher finished (metrics). */
    private readonly observe: (vendor: VendorName, status: RowOutcome['status']) => void = () => {},
  ) {
    this.repo = new OutboxRepository(db);
    this.brazeBudget = new RateLimiterDrizzle({
      storeClient: db,
      schema: rateLimits,
      keyPrefix: 'braze-identity',
      points: options.brazeRequestsPerMinute,
      duration: 60,
      clearExpiredByTimeout: false,
    });
  }

  start(): void {
    if (this.loop) return;
    this.loop = this.run();
  }

  /** Stops polling, cancels requests in flight, and lets go of the rows still claimed. */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.wake?.();
    await this.loop;
    this.loop = null;
    await this.repo.release(this.owner, this.clock());
  }

  private async run(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      let handled = 0;
      try {
        handled = await this.runOnce();
      } catch (error) {
        this.logger.error({ err: safeError(error) }, 'outbox cycle failed');
      }
      if (handled === 0 && !this.stopping.signal.aborted) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.options.pollMs);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  }

  /** One cycle; returns the number of rows it finished. Tests drive the dispatcher with it. */
  async runOnce(): Promise<number> {
    const now = this.clock();
    const rows = await this.repo.claim(
      this.owner,
      this.options.batchSize,
      this.options.leaseMs,
      now,
    );
    if (rows.length === 0) return 0;
    const settings = new Map(
      (await this.repo.vendorSettings([...new Set(rows.map((r) => r.workspaceId))])).map((w) => [
        w.id,
        w,
      ]),
    );
    const groups = new Map<string, OutboxRow[]>();
    for (const row of rows) {
      const key = `${row.workspaceId}\u0001${row.vendor}`;
      groups.set(key, [...(groups.get(key) ?? []), row]);
    }
    const outcomes = (
      await Promise.all(
        [...groups.values()].map((group) =>
          this.deliverGroup(group, settings.get(group[0].workspaceId) ?? null),
        ),
      )
    ).flat();
    // A cancelled send (shutdown) leaves its rows claimed; stop() releases them.
    await this.repo.finish(this.owner, outcomes, this.clock());
    const vendorOf = new Map(rows.map((r) => [r.id, r.vendor]));
    for (const o of outcomes) {
      this.observe(vendorOf.get(o.id)!, o.status);
      if (o.status === 'DEAD') {
        this.logger.warn(
          {
            deliveryId: o.id,
            workspaceId: o.workspaceId,
            vendor: vendorOf.get(o.id),
            error: maskEmails(o.lastError ?? ''),
          },
          'delivery dead',
        );
      }
    }
    return outcomes.length;
  }

  private async deliverGroup(
    rows: OutboxRow[],
    workspace: { mixpanel: MixpanelSettings | null; braze: BrazeSettings | null } | null,
  ): Promise<RowOutcome[]> {
    const vendor = rows[0].vendor;
    const adapter = ADAPTERS[vendor] as VendorAdapter<unknown>;
    const settings = workspace ? adapter.settings(workspace) : null;
    if (settings === null) {
      return rows.map((r) =>
        this.outcome(
          r,
          'SKIPPED',
          `${vendor.toLowerCase()} is no longer configured for this workspace`,
        ),
      );
    }
    const byId = new Map(rows.map((r) => [String(r.id), r]));
    const items = rows.map((r) => ({
      rowId: String(r.id),
      dedupeKey: r.dedupeKey,
      message: r.payload,
    }));
    const outcomes: RowOutcome[] = [];
    const requests = adapter.build(items, settings);
    // A row no request carries has nothing for this vendor.
    const carried = new Set(requests.flatMap((r) => r.rowIds));
    outcomes.push(
      ...rows
        .filter((r) => !carried.has(String(r.id)))
        .map((r) => this.outcome(r, 'SKIPPED', `nothing to send to ${vendor.toLowerCase()}`)),
    );
    for (const request of requests) {
      const requestRows = request.rowIds.map((id) => byId.get(id)!);
      if (this.stopping.signal.aborted) break;
      const wait = vendor === 'BRAZE' ? await this.takeBrazeBudget(rows[0].workspaceId) : 0;
      if (wait > 0) {
        outcomes.push(
          ...(await this.throttled(requestRows, vendor, wait, 'braze request budget used up')),
        );
        continue;
      }
      const sent = await sendVendorRequest(
        request,
        this.options.requestTimeoutMs,
        this.stopping.signal,
      );
      if (sent.kind === 'network') {
        if (this.stopping.signal.aborted) break;
        outcomes.push(...requestRows.map((r) => this.retry(r, sent.error)));
        continue;
      }
      const nowMs = this.clock().getTime();
      const verdict = adapter.classify(request, sent.response, nowMs);
      // A throttle, by status or by headers, pauses the whole workspace+vendor.
      const pause =
        adapter.pauseMs(sent.response, nowMs) ??
        (verdict.kind === 'retry' ? verdict.pauseMs : null);
      if (pause !== null && pause > 0) {
        await this.repo.pause(
          rows[0].workspaceId,
          vendor,
          new Date(nowMs + pause),
          `rate limit headers (${sent.response.status})`,
        );
      }
      outcomes.push(...this.apply(verdict, requestRows));
      if (pause !== null && pause > 0) {
        // The rest of this group waits for the pause too.
        const done = new Set(outcomes.map((o) => o.id));
        const rest = rows.filter((r) => !done.has(r.id));
        outcomes.push(...rest.map((r) => this.throttle(r, pause, 'paused by rate limit headers')));
        break;
      }
    }
    return outcomes;
  }

  private apply(result: Classification, rows: OutboxRow[]): RowOutcome[] {
    switch (result.kind) {
      case 'delivered':
        return rows.map((r) => this.outcome(r, 'DELIVERED', null));
      case 'partial':
        return rows.map((r) => {
          const failed = result.failed.get(String(r.id));
          return failed === undefined
            ? this.outcome(r, 'DELIVERED', null)
            : this.outcome(r, 'DEAD', failed);
        });
      case 'dead':
        return rows.map((r) => this.outcome(r, 'DEAD', result.error));
      case 'retry':
        return result.pauseMs !== null
          ? rows.map((r) => this.throttle(r, result.pauseMs!, result.error))
          : rows.map((r) => this.retry(r, result.error));
    }
  }

  private async throttled(
    rows: OutboxRow[],
    vendor: VendorName,
    waitMs: number,
    reason: string,
  ): Promise<RowOutcome[]> {
    await this.repo.pause(
      rows[0].workspaceId,
      vendor,
      new Date(this.clock().getTime() + waitMs),
      reason,
    );
    return rows.map((r) => this.throttle(r, waitMs, reason));
  }

  /** Milliseconds to wait before this workspace may send another Braze request (0: go). */
  private async takeBrazeBudget(workspaceId: string): Promise<number> {
    try {
      await this.brazeBudget.consume(workspaceId);
      return 0;
    } catch (error) {
      if (error instanceof RateLimiterRes) return Math.max(error.msBeforeNext, 1);
      throw error;
    }
  }

  private outcome(row: OutboxRow, status: RowOutcome['status'], error: string | null): RowOutcome {
    return {
      workspaceId: row.workspaceId,
      id: row.id,
      status,
      nextAttemptAt: null,
      lastError: error,
      refundAttempt: false,
    };
  }

  /** Throttling is not a failure: the attempt is given back, but the age limit still applies. */
  private throttle(row: OutboxRow, waitMs: number, error: string): RowOutcome {
    const now = this.clock().getTime();
    if (now - row.createdAt.getTime() > this.options.maxAgeMs) {
      return this.outcome(
        row,
        'DEAD',
        `gave up after ${Math.round(this.options.maxAgeMs / 60000)} minutes: ${error}`,
      );
    }
    return {
      ...this.outcome(row, 'RETRYING', error),
      nextAttemptAt: new Date(now + waitMs),
      refundAttempt: true,
    };
  }

  private retry(row: OutboxRow, error: string): RowOutcome {
    const now = this.clock().getTime();
    const tooOld = now - row.createdAt.getTime() > this.options.maxAgeMs;
    if (row.attempts >= this.options.maxAttempts || tooOld) {
      return this.outcome(row, 'DEAD', `gave up after ${row.attempts} attempts: ${error}`);
    }
    const { backoffBaseMs, backoffMaxMs } = this.options;
    const delay = Math.min(backoffMaxMs, backoffBaseMs * 2 ** (row.attempts - 1));
    const jitter = this.random() * backoffBaseMs;
    return {
      ...this.outcome(row, 'RETRYING', error),
      nextAttemptAt: new Date(now + delay + jitter),
    };
  }
}
