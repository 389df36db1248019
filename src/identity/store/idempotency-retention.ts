/**
 * Expired idempotency records (older than IDEMPOTENCY_TTL_HOURS) are deleted workspace by
 * workspace in small batches, by the same periodic pass that deletes finished deliveries.
 */
import { sql } from 'drizzle-orm';

import type { Queryable } from '../../db/client.js';
import { rowsOf } from '../../db/rows.js';

/** Deletes up to `limit` records of one workspace created before `cutoff`; returns how many. */
export async function deleteExpiredIdempotencyKeys(
  q: Queryable,
  workspaceId: string,
  cutoff: Date,
  limit: number,
): Promise<number> {
  const rows = rowsOf<unknown>(
    await q.execute(sql`
      delete from idempotency_keys where workspace_id = ${workspaceId} and key in (
        select key from idempotency_keys
        where workspace_id = ${workspaceId} and created_at < ${cutoff.toISOString()}::timestamptz
        order by created_at limit ${limit})
      returning key`),
  );
  return rows.length;
}
