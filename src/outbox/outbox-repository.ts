/**
 * The outbox as the API sees it: pages of deliveries, the deliveries of changes, counts, and
 * requeueing. The dispatcher's SQL is in queue-repository.ts.
 */
import { and, desc, eq, inArray, isNull, lt, or, sql, type SQL } from 'drizzle-orm';

import type { Db, Queryable } from '../db/client.js';
import { refreshErasures } from '../erasure/vendor-deletions.js';
import { ERASED_TYPE, type VendorName } from './message.js';
import { outboxMessages, type DeliveryStatusValue } from './outbox.sql.js';
import { lockHeads, promoteNext, type OutboxRow } from './queue-repository.js';

export type { OutboxRow } from './queue-repository.js';

export interface DeliveryFilter {
  readonly vendor?: VendorName | null;
  readonly status?: DeliveryStatusValue | null;
}

export class OutboxRepository {
  constructor(private readonly db: Db) {}

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
   * right now is left to it. A RETRYING row is its queue's head and stays one; a DEAD row joins
   * its queue parked and becomes the head only where the queue has none. The current heads are
   * locked first, so a dispatcher finishing one has committed (and promoted) before this looks.
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
    const targets = await q
      .select({ vendor: outboxMessages.vendor, profileId: outboxMessages.profileId })
      .from(outboxMessages)
      .where(and(where, eq(outboxMessages.status, 'DEAD')));
    const vendors = [...new Set(targets.map((t) => t.vendor))];
    const profilesOf = (vendor: VendorName) =>
      targets.filter((t) => t.vendor === vendor).map((t) => t.profileId);
    for (const vendor of vendors) {
      await lockHeads(q, workspaceId, vendor, profilesOf(vendor));
    }
    await q
      .update(outboxMessages)
      .set({
        status: 'PENDING',
        attempts: 0,
        nextAttemptAt: now,
        claimedUntil: null,
        claimedBy: null,
        parked: sql`${outboxMessages.parked} or ${outboxMessages.status} = 'DEAD'`,
        updatedAt: now,
      })
      .where(
        and(
          where,
          inArray(outboxMessages.status, ['DEAD', 'RETRYING']),
          or(isNull(outboxMessages.claimedUntil), lt(outboxMessages.claimedUntil, now)),
        ),
      );
    for (const vendor of vendors) {
      await promoteNext(q, workspaceId, vendor, profilesOf(vendor), now);
    }
    const rows = await q.select().from(outboxMessages).where(where).orderBy(outboxMessages.id);
    // A requeued vendor deletion puts its erasure back to PENDING.
    const erasures = rows.filter((r) => r.type === ERASED_TYPE).map((r) => r.changeId);
    await refreshErasures(q, workspaceId, [...new Set(erasures)], now);
    return rows;
  }

  private filter(workspaceId: string, filter: DeliveryFilter): SQL | undefined {
    return and(
      eq(outboxMessages.workspaceId, workspaceId),
      filter.vendor ? eq(outboxMessages.vendor, filter.vendor) : undefined,
      filter.status ? eq(outboxMessages.status, filter.status) : undefined,
    );
  }
}
