/**
 * Sends one claimed batch (one workspace, one vendor) and decides every row's outcome. Requests
 * go out a few at a time; a failure of any kind is confined to the rows it concerns: a row whose
 * translation throws is retried alone, a request whose handling throws fails its own rows, a
 * throttle pauses the lane and holds back the requests not yet sent. Rows whose requests were
 * cancelled (shutdown) come back as `unsent`, to be released rather than finished.
 */
import type { Logger } from 'pino';

import type { BrazeSettings, MixpanelSettings } from '../config/config.js';
import { mapLimited } from '../lib/map-limited.js';
import { safeError } from '../log.js';
import {
  brazeOperation,
  type BrazeOperation,
  brazePauseMs,
  brazeRequests,
  classifyBrazeResponse,
} from '../vendors/braze/to-braze.js';
import {
  classifyMixpanelResponse,
  mixpanelItem,
  type MixpanelItemEvents,
  mixpanelRequests,
} from '../vendors/mixpanel/to-mixpanel.js';
import { sendVendorRequest } from '../vendors/send.js';
import type {
  Classification,
  OutboxItem,
  VendorName,
  VendorRequest,
  VendorResponse,
} from './message.js';
import type { OutcomePolicy } from './outcomes.js';
import type { Lane, ClaimedRow, RowOutcome } from './queue-repository.js';

export interface WorkspaceVendors {
  readonly mixpanel: MixpanelSettings | null;
  readonly braze: BrazeSettings | null;
}

interface VendorAdapter<S, P = unknown> {
  settings(workspace: WorkspaceVendors): S | null;
  /** One row translated alone; throws when it cannot be. */
  prepare(item: OutboxItem, settings: S): P;
  /** The requests that carry prepared rows. */
  assemble(prepared: readonly P[], settings: S): VendorRequest[];
  classify(request: VendorRequest, response: VendorResponse, nowMs: number): Classification;
  pauseMs(response: VendorResponse, nowMs: number): number | null;
}

const BRAZE: VendorAdapter<BrazeSettings, BrazeOperation> = {
  settings: (w) => w.braze,
  prepare: (item) => brazeOperation(item),
  assemble: brazeRequests,
  classify: classifyBrazeResponse,
  pauseMs: brazePauseMs,
};

const MIXPANEL: VendorAdapter<MixpanelSettings, MixpanelItemEvents> = {
  settings: (w) => w.mixpanel,
  prepare: mixpanelItem,
  assemble: mixpanelRequests,
  classify: classifyMixpanelResponse,
  pauseMs: () => null,
};

/** Each vendor's adapter; the batch code handles settings and prepared rows opaquely. */
const ADAPTERS = { BRAZE, MIXPANEL } as unknown as Record<VendorName, VendorAdapter<unknown>>;

/** What a batch needs from the dispatcher around it. */
export interface BatchContext {
  readonly policy: OutcomePolicy;
  readonly logger: Logger;
  readonly clock: () => Date;
  readonly signal: AbortSignal;
  readonly requestTimeoutMs: number;
  readonly requestsInFlight: number;
  /** Milliseconds until the workspace may send this many more Braze requests (0: go). */
  takeBrazeBudget(workspaceId: string, requests: number): Promise<number>;
  /** Milliseconds until the workspace may send another request to Mixpanel's GDPR API (0: go). */
  takeGdprBudget(workspaceId: string): Promise<number>;
  pause(lane: Lane, until: Date, reason: string): Promise<void>;
  /** Makes sure the lease of these rows lasts `ms` more; returns the ids still held. */
  holdFor(ids: readonly number[], ms: number): Promise<ReadonlySet<number>>;
}

export interface BatchResult {
  readonly outcomes: RowOutcome[];
  /** Rows not sent because the dispatcher is stopping: release them. */
  readonly unsent: number[];
  /** When the lane was paused by this batch, until when. */
  readonly pausedUntil: number | null;
}

const GDPR_BUDGET_USED = 'mixpanel GDPR API: one request per second per project';

/** A margin for the time between a lease check and the request's start. */
const LEASE_MARGIN_MS = 2_000;

export async function deliverBatch(
  ctx: BatchContext,
  lane: Lane,
  rows: readonly ClaimedRow[],
  workspace: WorkspaceVendors | null,
): Promise<BatchResult> {
  const adapter = ADAPTERS[lane.vendor];
  const settings = workspace ? adapter.settings(workspace) : null;
  const name = lane.vendor.toLowerCase();
  if (settings === null) {
    const why = `${name} is no longer configured for this workspace`;
    return done(rows.map((r) => ctx.policy.final(r, 'SKIPPED', why)));
  }
  const outcomes: RowOutcome[] = [];
  const { requests, failed } = translate(adapter, rows, settings);
  outcomes.push(...failed.map(([row, error]) => ctx.policy.retry(row, error)));
  const byId = new Map(rows.map((r) => [String(r.id), r]));
  const carried = new Set(requests.flatMap((r) => r.rowIds));
  const failedIds = new Set(failed.map(([row]) => row.id));
  outcomes.push(
    ...rows
      .filter((r) => !carried.has(String(r.id)) && !failedIds.has(r.id))
      .map((r) => ctx.policy.final(r, 'SKIPPED', `nothing to send to ${name}`)),
  );
  if (requests.length === 0) return done(outcomes);

  const send = new BatchSender(ctx, lane, adapter, byId);
  if (lane.vendor === 'BRAZE') {
    const blocked = await send.budget(requests);
    if (blocked) return done([...outcomes, ...blocked]);
  }
  await mapLimited(requests, ctx.requestsInFlight, (request) => send.one(request));
  return {
    outcomes: [...outcomes, ...send.outcomes],
    unsent: send.unsent,
    pausedUntil: send.pausedUntil,
  };
}

function done(outcomes: RowOutcome[]): BatchResult {
  return { outcomes, unsent: [], pausedUntil: null };
}

/** Translates row by row first, so that one row that cannot be translated fails alone. */
function translate(
  adapter: VendorAdapter<unknown>,
  rows: readonly ClaimedRow[],
  settings: unknown,
): { requests: VendorRequest[]; failed: [ClaimedRow, string][] } {
  const failed: [ClaimedRow, string][] = [];
  const prepared: unknown[] = [];
  for (const row of rows) {
    const item = { rowId: String(row.id), dedupeKey: row.dedupeKey, message: row.payload };
    try {
      prepared.push(adapter.prepare(item, settings));
    } catch (error) {
      failed.push([row, `could not build the request: ${errorText(error)}`]);
    }
  }
  return { requests: adapter.assemble(prepared, settings), failed };
}

/** The sending half of a batch: its requests, the lane's pause, and the rows' outcomes. */
class BatchSender {
  readonly outcomes: RowOutcome[] = [];
  readonly unsent: number[] = [];
  pausedUntil: number | null = null;
  private readonly lost = new Set<number>();

  constructor(
    private readonly ctx: BatchContext,
    private readonly lane: Lane,
    private readonly adapter: VendorAdapter<unknown>,
    private readonly byId: ReadonlyMap<string, ClaimedRow>,
  ) {}

  /** Takes the batch's share of Braze's budget, or throttles every row (null: go). */
  async budget(requests: readonly VendorRequest[]): Promise<RowOutcome[] | null> {
    const rows = requests.flatMap((r) => this.rowsOf(r));
    let wait: number;
    try {
      wait = await this.ctx.takeBrazeBudget(this.lane.workspaceId, requests.length);
    } catch (error) {
      const text = `braze request budget unavailable: ${errorText(error)}`;
      return rows.map((r) => this.ctx.policy.retry(r, text));
    }
    if (wait <= 0) return null;
    const reason = 'braze request budget used up';
    await this.pauseLane(wait, reason);
    return rows.map((r) => this.ctx.policy.throttle(r, wait, reason));
  }

  async one(request: VendorRequest): Promise<void> {
    const rows = this.rowsOf(request);
    try {
      this.outcomes.push(...(await this.attempt(request, rows)));
    } catch (error) {
      this.ctx.logger.error({ err: safeError(error), vendor: this.lane.vendor }, 'delivery failed');
      const text = `delivery failed: ${errorText(error)}`;
      this.outcomes.push(...rows.map((r) => this.ctx.policy.retry(r, text)));
    }
  }

  private async attempt(request: VendorRequest, all: ClaimedRow[]): Promise<RowOutcome[]> {
    const { ctx } = this;
    if (ctx.signal.aborted) return this.giveBack(all);
    if (this.pausedUntil !== null) {
      const wait = Math.max(this.pausedUntil - ctx.clock().getTime(), 1);
      return all.map((r) => ctx.policy.throttle(r, wait, 'paused by a throttled request'));
    }
    if (request.budget === 'mixpanel.gdpr') {
      // One request per second per project: a request over it waits, the lane goes on.
      const wait = await ctx.takeGdprBudget(this.lane.workspaceId);
      if (wait > 0) {
        return all.map((r) => ctx.policy.throttle(r, wait, GDPR_BUDGET_USED));
      }
    }
    // A request may outlive the lease only if nobody else can have taken its rows meanwhile.
    const held = await ctx.holdFor(
      all.map((r) => r.id),
      ctx.requestTimeoutMs + LEASE_MARGIN_MS,
    );
    const rows = all.filter((r) => held.has(r.id));
    if (rows.length < all.length) {
      // Another dispatcher may hold some of these rows now: the body is not ours to send.
      for (const r of all) if (!held.has(r.id)) this.lost.add(r.id);
      return this.giveBack(rows);
    }
    const sent = await sendVendorRequest(request, ctx.requestTimeoutMs, ctx.signal);
    if (sent.kind === 'network') {
      if (ctx.signal.aborted) return this.giveBack(rows);
      return rows.map((r) => ctx.policy.retry(r, sent.error));
    }
    const nowMs = ctx.clock().getTime();
    const verdict = this.adapter.classify(request, sent.response, nowMs);
    // A throttle, by status or by headers, pauses the whole workspace+vendor.
    const pause =
      this.adapter.pauseMs(sent.response, nowMs) ??
      (verdict.kind === 'retry' ? verdict.pauseMs : null);
    if (pause !== null && pause > 0) {
      await this.pauseLane(pause, `rate limit headers (${sent.response.status})`);
    }
    return ctx.policy.apply(verdict, rows);
  }

  private async pauseLane(ms: number, reason: string): Promise<void> {
    const until = this.ctx.clock().getTime() + ms;
    this.pausedUntil = Math.max(this.pausedUntil ?? 0, until);
    try {
      await this.ctx.pause(this.lane, new Date(until), reason);
    } catch (error) {
      // The rows still wait by their own next attempt; only other processes miss the pause.
      this.ctx.logger.error({ err: safeError(error) }, 'could not record a vendor pause');
    }
  }

  private giveBack(rows: readonly ClaimedRow[]): RowOutcome[] {
    this.unsent.push(...rows.map((r) => r.id));
    return [];
  }

  private rowsOf(request: VendorRequest): ClaimedRow[] {
    return request.rowIds.map((id) => this.byId.get(id)!).filter((r) => !this.lost.has(r.id));
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
