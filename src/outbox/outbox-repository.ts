/**
 * The SQL of the outbox: claiming due rows with FOR UPDATE SKIP LOCKED under a lease, keeping
 * order per (workspace, vendor, profile), recording outcomes, pauses, and the reads of the API.
 */
import { and, desc, eq, inArray, isNull, lt, or, sql, type SQL } from 'drizzle-orm';

import { workspaces } from '../auth/auth.sql.js';
import type { Db, Queryable } from '../db/client.js';
import { rowsOf } from '../db/rows.js';
import type { VendorName } from './message.js';
import { outboxMessages, vendorPauses, type DeliveryStatusValue } from './outbox.sql.js';

export type OutboxRow = typeof outboxMessages.$inferSelect;

/** What happens to a claimed row after its request. */
export interface RowOutcome {
  readonly workspaceId: string;
  readonly id: number;
  readonly status: DeliveryStatusValue;
  readonly nextAttemptAt: Date | null;
  readonly lastError: string | null;
  /** A throttled row gets its attempt back: being told to wait is not a failure. */
  readonly refundAttempt: boolean;
}

export interface DeliveryFilter {
  readonly vendor?: VendorName | null;
  readonly status?: DeliveryStatusValue | null;
}

export class OutboxRepository {
  constructor(private readonly db: Db) {}

  /**
   * Takes up to `limit` due rows for this dispatcher. A row is due when it waits (PENDING or
   * RETRYING), its time has come, no lease holds it, its workspace+vendor is not paused, and no
   * earlier row of the same (workspace, vendor, profile) is still waiting: order per profile.
   */
  async claim(owner: string, limit: number, leaseMs: number, now: Date): Promise<OutboxRow[]> {
    // postgres.js sends raw parameters as text: dates go as ISO strings, cast in SQL.
    const at = sql`${now.toISOString()}::timestamptz`;
    const until = sql`${new Date(now.getTime() + leaseMs).toISOString()}::timestamptz`;
    const rows = rowsOf<Record<string, unknown>>(
      await this.db.execute(sql`
        with due as (
          select o.workspace_id, o.id from outbox_messages o
          where o.status in ('PENDING', 'RETRYING') and o.next_attempt_at <= ${at}
            and (o.claimed_until is null or o.claimed_until < ${at})
            and not exists (
              select 1 from vendor_pauses p
              where p.workspace_id = o.workspace_id and p.vendor = o.vendor and p.paused_until > ${at})
            and not exists (
              select 1 from outbox_messages e
              where e.workspace_id = o.workspace_id and e.vendor = o.vendor
                and e.profile_id = o.profile_id and e.id < o.id
                and e.status in ('PENDING', 'RETRYING'))
          order by o.id
          limit ${limit}
          for update of o skip locked
        )
        update outbox_messages m
        set claimed_until = ${until}, claimed_by = ${owner}, attempts = m.attempts + 1, updated_at = ${at}
        from due where m.workspace_id = due.workspace_id and m.id = due.id
        returning m.workspace_id, m.id`),
    );
    if (rows.length === 0) return [];
    const ids = rows.map((r) => Number(r['id']));
    const claimed = await this.db
      .select()
      .from(outboxMessages)
      .where(and(inArray(outboxMessages.id, ids), eq(outboxMessages.claimedBy, owner)))
      .orderBy(outboxMessages.id);
    return claimed;
  }

  /** Writes the outcome of each row and lets go of its lease. */
  async finish(owner: string, outcomes: readonly RowOutcome[], now: Date): Promise<void> {
    if (outcomes.length === 0) return;
    const at = now.toISOString();
    const payload = JSON.stringify(
      outcomes.map((o) => ({
        w: o.workspaceId,
        i: o.id,
        s: o.status,
        n: o.nextAttemptAt,
        e: o.lastError,
        r: o.refundAttempt ? 1 : 0,
      })),
    );
    await this.db.execute(sql`
      update outbox_messages m set
        status = v.s,
        next_attempt_at = coalesce(v.n, m.next_attempt_at),
        last_error = coalesce(v.e, m.last_error),
        attempts = m.attempts - v.r,
        delivered_at = case when v.s = 'DELIVERED' then ${at}::timestamptz else m.delivered_at end,
        claimed_until = null, claimed_by = null, updated_at = ${at}::timestamptz
      from (
        select (e->>'w')::uuid as w, (e->>'i')::bigint as i, e->>'s' as s,
               (e->>'n')::timestamptz as n, e->>'e' as e, (e->>'r')::int as r
        from jsonb_array_elements(${payload}::jsonb) as e
      ) as v
      where m.workspace_id = v.w and m.id = v.i and m.claimed_by = ${owner}`);
  }

  /** Lets go of rows this dispatcher claimed but did not finish (shutdown). */
  async release(owner: string, now: Date): Promise<number> {
    const rows = await this.db
      .update(outboxMessages)
      .set({
        claimedUntil: null,
        claimedBy: null,
        attempts: sql`${outboxMessages.attempts} - 1`,
        updatedAt: now,
      })
      .where(eq(outboxMessages.claimedBy, owner))
      .returning({ id: outboxMessages.id });
    return rows.length;
  }

  async pause(workspaceId: string, vendor: VendorName, until: Date, reason: string): Promise<void> {
    await this.db
      .insert(vendorPauses)
      .values({ workspaceId, vendor, pausedUntil: until, reason })
      .onConflictDoUpdate({
        target: [vendorPauses.workspaceId, vendorPauses.vendor],
        set: {
          pausedUntil: sql`greatest(${vendorPauses.pausedUntil}, excluded.paused_until)`,
          reason: sql`excluded.reason`,
        },
      });
  }

  async vendorSettings(ids: readonly string[]) {
    if (ids.length === 0) return [];
    return this.db
      .select({ id: workspaces.id, mixpanel: workspaces.mixpanel, braze: workspaces.braze })
      .from(workspaces)
      .where(inArray(workspaces.id, [...ids]));
  }

  // --- reads and requeue for the API ---

  byChangeIds(workspaceId: string, changeIds: readonly string[]): Promise<OutboxRow[]> {
    return this.db
      .select()
      .from(outboxMessages)
      .where(
        and(
          eq(outboxMessages.workspaceId, workspaceId),
          inArray(outboxMessages.changeId, [...changeIds]),
        ),
      )
      .orderBy(outboxMessages.id);
  }

  list(
    workspaceId: string,
    filter: DeliveryFilter,
    beforeId: number | null,
    limit: number,
  ): Promise<OutboxRow[]> {
    return this.db
      .select()
      .from(outboxMessages)
      .where(
        and(
          this.filter(workspaceId, filter),
          beforeId !== null ? lt(outboxMessages.id, beforeId) : undefined,
        ),
      )
      .orderBy(desc(outboxMessages.id))
      .limit(limit);
  }

  async count(workspaceId: string, filter: DeliveryFilter): Promise<number> {
    const [row] = await this.db
      .select({ n: sql<number>`count(*)::int` })
      .from(outboxMessages)
      .where(this.filter(workspaceId, filter));
    return Number(row?.n ?? 0);
  }

  /**
   * Makes DEAD and RETRYING rows due now, with a fresh attempt budget; a row a dispatcher holds
   * right now is left to it.
   */
  async requeue(
    q: Queryable,
    workspaceId: string,
    ids: readonly number[],
    now: Date,
  ): Promise<OutboxRow[]> {
    const where = and(
      eq(outboxMessages.workspaceId, workspaceId),
      inArray(outboxMessages.id, [...ids]),
    );
    await q
      .update(outboxMessages)
      .set({
        status: 'PENDING',
        attempts: 0,
        nextAttemptAt: now,
        claimedUntil: null,
        claimedBy: null,
        updatedAt: now,
      })
      .where(
        and(
          where,
          inArray(outboxMessages.status, ['DEAD', 'RETRYING']),
          or(isNull(outboxMessages.claimedUntil), lt(outboxMessages.claimedUntil, now)),
        ),
      );
    return q.select().from(outboxMessages).where(where).orderBy(outboxMessages.id);
  }

  private filter(workspaceId: string, filter: DeliveryFilter): SQL | undefined {
    return and(
      eq(outboxMessages.workspaceId, workspaceId),
      filter.vendor ? eq(outboxMessages.vendor, filter.vendor) : undefined,
      filter.status ? eq(outboxMessages.status, filter.status) : undefined,
    );
  }
}
