/**
 * The dispatcher's SQL. Every statement names one workspace (and most one vendor), so each is
 * routed to one shard on Citus, and none reads more rows than the batch it works on:
 *
 * - probe: when a workspace's Braze and Mixpanel queues next have a head due, and their pauses;
 * - claim: the due heads of one (workspace, vendor), oldest first, by the partial index
 *   `outbox_due_idx`, locked with SKIP LOCKED and leased by moving `next_attempt_at` to the end
 *   of the lease, so the next claim's index range starts after them: a claim never steps over
 *   rows in flight, however many dispatchers hold how many;
 * - finish: the outcomes of a batch in one statement (typed arrays, unnest), then the promotion
 *   of the next parked row of every queue whose head finished for good, leased in the same write
 *   to the dispatcher that finished it (its next batch), so it is not claimed again;
 * - renew and release: a lease extended or given back;
 * - deleteFinished: retention, in small batches.
 */
import { and, eq, gt, lte, notExists, sql, type SQL } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';

import { workspaces } from '../auth/auth.sql.js';
import type { Db, Queryable } from '../db/client.js';
import { rowsOf } from '../db/rows.js';
import { settleDeletions } from '../erasure/vendor-deletions.js';
import { pgArray } from '../lib/pg-array.js';
import { ERASED_TYPE, type OutboxMessage, type VendorName } from './message.js';
import { outboxMessages, vendorPauses, type DeliveryStatusValue } from './outbox.sql.js';

export type OutboxRow = typeof outboxMessages.$inferSelect;

/** What the dispatcher needs of a claimed row. */
export type ClaimedRow = Pick<
  OutboxRow,
  'id' | 'profileId' | 'payload' | 'dedupeKey' | 'attempts' | 'createdAt'
>;

/** A lease given to rows as they are claimed or promoted. */
export interface Lease {
  readonly owner: string;
  readonly until: Date;
}

/** One (workspace, vendor) queue family: the unit a claim works on. */
export interface Lane {
  readonly workspaceId: string;
  readonly vendor: VendorName;
}

/** What happens to a claimed row after its request. */
export interface RowOutcome {
  readonly id: number;
  /** The row's queue within the lane; finishing locks rows in this order. */
  readonly profileId: string;
  readonly status: DeliveryStatusValue;
  readonly nextAttemptAt: Date | null;
  readonly lastError: string | null;
  /** A throttled row gets its attempt back: being told to wait is not a failure. */
  readonly refundAttempt: boolean;
  /** What the vendor calls the work it took on (kept for erasure rows: a deletion task id). */
  readonly reference?: string | null;
}

/** When a lane next has a head due (null: nothing waits) and until when it is paused. */
export interface LaneState {
  readonly dueAt: number | null;
  readonly pausedUntil: number | null;
}

export type WorkspaceProbe = Readonly<Record<VendorName, LaneState>>;

const FINAL: ReadonlySet<string> = new Set(['DELIVERED', 'DEAD', 'SKIPPED']);

export class QueueRepository {
  constructor(private readonly db: Db) {}

  /** Every workspace (or one) with its vendor settings: a small reference table. */
  workspaces(id?: string) {
    return this.db
      .select({ id: workspaces.id, mixpanel: workspaces.mixpanel, braze: workspaces.braze })
      .from(workspaces)
      .where(id === undefined ? undefined : eq(workspaces.id, id));
  }

  /** Four index probes of one workspace: the earliest due head and the pause of each vendor. */
  async probe(workspaceId: string): Promise<WorkspaceProbe> {
    // ORDER BY and LIMIT as in the claim, so the due index serves it under any statistics.
    const dueOf = (vendor: VendorName) => sql`(
      select extract(epoch from next_attempt_at) * 1000 from outbox_messages
      where workspace_id = ${workspaceId} and vendor = ${vendor}
        and status in ('PENDING', 'RETRYING') and not parked
      order by next_attempt_at, id limit 1)`;
    const pauseOf = (vendor: VendorName) => sql`(
      select extract(epoch from paused_until) * 1000 from vendor_pauses
      where workspace_id = ${workspaceId} and vendor = ${vendor})`;
    const [row] = rowsOf<Record<string, unknown>>(
      await this.db.execute(sql`select
        ${dueOf('BRAZE')}::float8 as braze_due, ${pauseOf('BRAZE')}::float8 as braze_pause,
        ${dueOf('MIXPANEL')}::float8 as mixpanel_due, ${pauseOf('MIXPANEL')}::float8 as mixpanel_pause`),
    );
    const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
    const state = (prefix: string): LaneState => ({
      dueAt: num(row?.[`${prefix}_due`]),
      pausedUntil: num(row?.[`${prefix}_pause`]),
    });
    return { BRAZE: state('braze'), MIXPANEL: state('mixpanel') };
  }

  /**
   * The claim as one statement (exposed so that tests can EXPLAIN exactly what runs). The status
   * and `parked` predicates are literals so that the partial index matches under any plan.
   */
  claimQuery(lane: Lane, owner: string, limit: number, leaseMs: number, now: Date) {
    const until = new Date(now.getTime() + leaseMs);
    const d = alias(outboxMessages, 'd');
    const paused = this.db
      .select({ one: sql`1` })
      .from(vendorPauses)
      .where(
        and(
          eq(vendorPauses.workspaceId, lane.workspaceId),
          eq(vendorPauses.vendor, lane.vendor),
          gt(vendorPauses.pausedUntil, now),
        ),
      );
    const due = this.db
      .select({ id: d.id })
      .from(d)
      .where(
        and(
          eq(d.workspaceId, lane.workspaceId),
          eq(d.vendor, lane.vendor),
          sql`${d.status} in ('PENDING', 'RETRYING') and not ${d.parked}`,
          lte(d.nextAttemptAt, now),
          notExists(paused),
        ),
      )
      .orderBy(d.nextAttemptAt, d.id)
      .limit(limit)
      .for('update', { skipLocked: true })
      .as('due');
    const o = outboxMessages;
    return this.db
      .update(o)
      .set({
        nextAttemptAt: until,
        claimedUntil: until,
        claimedBy: owner,
        attempts: sql`${o.attempts} + 1`,
      })
      .from(due)
      .where(and(eq(o.workspaceId, lane.workspaceId), eq(o.id, due.id)))
      .returning({
        id: o.id,
        profileId: o.profileId,
        payload: o.payload,
        dedupeKey: o.dedupeKey,
        attempts: o.attempts,
        createdAt: o.createdAt,
      });
  }

  async claim(
    lane: Lane,
    owner: string,
    limit: number,
    leaseMs: number,
    now: Date,
  ): Promise<ClaimedRow[]> {
    const rows = await this.claimQuery(lane, owner, limit, leaseMs, now);
    return rows.sort((a, b) => a.id - b.id);
  }

  /** Extends the lease of rows still held; returns the ids that are. */
  async renew(lane: Lane, ids: readonly number[], owner: string, until: Date): Promise<number[]> {
    const at = until.toISOString();
    const rows = rowsOf<{ id: string | number }>(
      await this.db.execute(sql`
        update outbox_messages m
        set claimed_until = ${at}::timestamptz, next_attempt_at = ${at}::timestamptz
        from ${byIds(lane.workspaceId, ids)}
        where m.workspace_id = ${lane.workspaceId} and m.id = r.id and m.claimed_by = ${owner}
        returning m.id`),
    );
    return rows.map((r) => Number(r.id));
  }

  /**
   * Writes a batch's outcomes (only rows this dispatcher still holds) and promotes the next row
   * of every queue whose head is done for good, in one transaction of two statements. Rows are
   * locked in profile order, as enqueuers lock heads, so neither waits on the other in a cycle;
   * each row is found by its primary key from the lateral lookup, whatever the statistics. The
   * promotion is a statement of its own: under READ COMMITTED it then sees the rows that an
   * enqueuer parked while the finish waited for the head's lock.
   *
   * With `lease`, a promoted row that is due (and whose lane is not paused) is leased to this
   * dispatcher in the same write, as a claim would lease it: the row behind a finished head is
   * written once on its way to the vendor instead of twice. Those rows are returned.
   */
  async finish(
    lane: Lane,
    owner: string,
    outcomes: readonly RowOutcome[],
    now: Date,
    lease: Lease | null = null,
  ): Promise<ClaimedRow[]> {
    if (outcomes.length === 0) return [];
    return this.db.transaction(async (tx) => {
      const done = rowsOf<{
        id: string | number;
        profile_id: string;
        status: string;
        type: string;
        change_id: string;
      }>(await tx.execute(this.finishQuery(lane, owner, outcomes, now)));
      const erased = done.filter((r) => r.type === ERASED_TYPE);
      if (erased.length > 0) {
        const references = new Map(outcomes.map((o) => [o.id, o.reference ?? null]));
        await settleDeletions(
          tx,
          lane.workspaceId,
          erased.map((r) => ({
            id: Number(r.id),
            changeId: r.change_id,
            reference: references.get(Number(r.id)) ?? null,
          })),
          now,
        );
      }
      const finished = done.filter((r) => FINAL.has(r.status)).map((r) => r.profile_id);
      return promoteNext(tx, lane.workspaceId, lane.vendor, finished, now, lease);
    });
  }

  /** The outcome statement of finish (exposed so that tests can EXPLAIN it). */
  finishQuery(lane: Lane, owner: string, outcomes: readonly RowOutcome[], now: Date): SQL {
    const at = now.toISOString();
    // Rows are locked in profile order, as enqueuers lock heads (see enqueue.ts).
    const sorted = [...outcomes].sort((a, b) =>
      a.profileId < b.profileId ? -1 : a.profileId > b.profileId ? 1 : 0,
    );
    const col = <T extends string | number | null>(f: (o: RowOutcome) => T) =>
      pgArray(sorted.map(f));
    return sql`
      update outbox_messages m set
        status = v.status,
        next_attempt_at = coalesce(v.next_attempt_at, m.next_attempt_at),
        last_error = coalesce(v.last_error, m.last_error),
        attempts = m.attempts - v.refund,
        delivered_at = case when v.status = 'DELIVERED' then ${at}::timestamptz else m.delivered_at end,
        claimed_until = null, claimed_by = null, updated_at = ${at}::timestamptz
      from (
        select l.id, u.status, u.next_attempt_at, u.last_error, u.refund
        from unnest(
          ${col((o) => o.id)}::bigint[],
          ${col((o) => o.status)}::text[],
          ${col((o) => o.nextAttemptAt?.toISOString() ?? null)}::timestamptz[],
          ${col((o) => storable(o.lastError))}::text[],
          ${col((o) => (o.refundAttempt ? 1 : 0))}::int[]
        ) as u(id, status, next_attempt_at, last_error, refund)
        cross join lateral (
          select o.id from outbox_messages o
          where o.workspace_id = ${lane.workspaceId} and o.id = u.id and o.claimed_by = ${owner}
          limit 1
          for update
        ) as l
      ) as v
      where m.workspace_id = ${lane.workspaceId} and m.id = v.id
      returning m.id, m.profile_id, m.status, m.type, m.change_id`;
  }

  /** Gives back rows this dispatcher holds but did not finish: due again, attempt refunded. */
  async release(lane: Lane, ids: readonly number[], owner: string, now: Date): Promise<number> {
    if (ids.length === 0) return 0;
    const rows = rowsOf<unknown>(
      await this.db.execute(sql`
        update outbox_messages m set claimed_until = null, claimed_by = null,
          attempts = m.attempts - 1, next_attempt_at = ${now.toISOString()}::timestamptz
        from ${byIds(lane.workspaceId, ids)}
        where m.workspace_id = ${lane.workspaceId} and m.id = r.id
          and m.claimed_by = ${owner} and m.status in ('PENDING', 'RETRYING')
        returning m.id`),
    );
    return rows.length;
  }

  async pause(lane: Lane, until: Date, reason: string): Promise<void> {
    await this.db
      .insert(vendorPauses)
      .values({ workspaceId: lane.workspaceId, vendor: lane.vendor, pausedUntil: until, reason })
      .onConflictDoUpdate({
        target: [vendorPauses.workspaceId, vendorPauses.vendor],
        set: {
          pausedUntil: sql`greatest(${vendorPauses.pausedUntil}, excluded.paused_until)`,
          reason: sql`excluded.reason`,
        },
      });
  }

  /**
   * Deletes up to `limit` finished rows of one workspace in the given statuses that last changed
   * before `cutoff`; a short statement, so retention never holds long locks.
   */
  async deleteFinished(
    workspaceId: string,
    statuses: 'delivered' | 'dead',
    cutoff: Date,
    limit: number,
  ): Promise<number> {
    const status: SQL =
      statuses === 'dead' ? sql`status = 'DEAD'` : sql`status in ('DELIVERED', 'SKIPPED')`;
    const rows = rowsOf<unknown>(
      await this.db.execute(sql`
        delete from outbox_messages where workspace_id = ${workspaceId} and id in (
          select id from outbox_messages
          where workspace_id = ${workspaceId} and ${status}
            and updated_at < ${cutoff.toISOString()}::timestamptz
          limit ${limit})
        returning id`),
    );
    return rows.length;
  }
}

/**
 * Makes the oldest parked row of each named queue its head, where the queue has none. Callers
 * run it after a head finished (dispatcher) or after parking requeued rows (retryDeliveries).
 * With a lease, each promoted row that is due while its lane is not paused is also claimed for
 * `lease.owner` (its attempt counted, its next attempt moved to the end of the lease, as the
 * claim does); those rows are returned, oldest first.
 */
export async function promoteNext(
  q: Queryable,
  workspaceId: string,
  vendor: VendorName,
  profileIds: readonly string[],
  now: Date,
  lease: Lease | null = null,
): Promise<ClaimedRow[]> {
  if (profileIds.length === 0) return [];
  const at = now.toISOString();
  // Whether a promoted row is leased at once: a constant false without a lease.
  const take = lease
    ? sql`p.next_attempt_at <= ${at}::timestamptz and not exists (
        select 1 from vendor_pauses v
        where v.workspace_id = ${workspaceId} and v.vendor = ${vendor}
          and v.paused_until > ${at}::timestamptz)`
    : sql`false`;
  const until = lease ? lease.until.toISOString() : null;
  // Per queue: one probe of the head index, then the first parked row by the parked index.
  const rows = rowsOf<RawClaimed>(
    await q.execute(sql`
    update outbox_messages m set parked = false, updated_at = ${at}::timestamptz,
      claimed_until = case when n.take then ${until}::timestamptz else m.claimed_until end,
      claimed_by = case when n.take then ${lease?.owner ?? null}::text else m.claimed_by end,
      next_attempt_at = case when n.take then ${until}::timestamptz else m.next_attempt_at end,
      attempts = m.attempts + case when n.take then 1 else 0 end
    from unnest(${pgArray([...new Set(profileIds)])}::uuid[]) as k(profile_id)
    cross join lateral (
      select p.id, ${take} as take from outbox_messages p
      where p.workspace_id = ${workspaceId} and p.vendor = ${vendor} and p.profile_id = k.profile_id
        and p.status in ('PENDING', 'RETRYING') and p.parked
        and not exists (
          select 1 from outbox_messages h
          where h.workspace_id = ${workspaceId} and h.vendor = ${vendor}
            and h.profile_id = k.profile_id and h.status in ('PENDING', 'RETRYING') and not h.parked)
      order by p.id limit 1
    ) as n
    where m.workspace_id = ${workspaceId} and m.id = n.id
    returning n.take, m.id, m.profile_id, m.payload, m.dedupe_key, m.attempts, m.created_at`),
  );
  return rows
    .filter((r) => r.take)
    .map((r) => ({
      id: Number(r.id),
      profileId: r.profile_id,
      payload: r.payload,
      dedupeKey: r.dedupe_key,
      attempts: r.attempts,
      createdAt: new Date(r.created_at),
    }))
    .sort((a, b) => a.id - b.id);
}

/** A promoted row as both drivers return it from raw SQL (bigint as text, timestamps as text). */
interface RawClaimed {
  readonly take: boolean;
  readonly id: string | number;
  readonly profile_id: string;
  readonly payload: OutboxMessage;
  readonly dedupe_key: string;
  readonly attempts: number;
  readonly created_at: string;
}

/**
 * Locks the current heads of the named queues, in profile order (as enqueuers and finishers lock
 * them), each found by the unique head index.
 */
export async function lockHeads(
  q: Queryable,
  workspaceId: string,
  vendor: VendorName,
  profileIds: readonly string[],
): Promise<void> {
  if (profileIds.length === 0) return;
  const sorted = [...new Set(profileIds)].sort();
  await q.execute(sql`
    select h.id from unnest(${pgArray(sorted)}::uuid[]) as k(profile_id)
    cross join lateral (
      select o.id from outbox_messages o
      where o.workspace_id = ${workspaceId} and o.vendor = ${vendor}
        and o.profile_id = k.profile_id and o.status in ('PENDING', 'RETRYING') and not o.parked
      limit 1
      for update
    ) as h`);
}

/**
 * Rows of one workspace by id, as a FROM item `r(id)`: each looked up by its primary key from
 * the list, a plan that no statistics (or their absence) can turn into a scan of the workspace.
 */
export function byIds(workspaceId: string, ids: readonly number[]): SQL {
  return sql`unnest(${pgArray(ids)}::bigint[]) as wanted(id)
    cross join lateral (
      select o.id from outbox_messages o
      where o.workspace_id = ${workspaceId} and o.id = wanted.id
      limit 1
    ) as r`;
}

/** PostgreSQL text cannot hold NUL; a vendor's answer might. */
function storable(text: string | null): string | null {
  return text === null ? null : text.replaceAll('\u0000', '');
}
