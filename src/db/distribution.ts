/**
 * How each table is laid out on Citus (see docs/scaling.md). Small tables that every
 * request reads whatever its workspace (keys, workspaces, rate limits) are reference tables, a
 * copy on every node; every other table is distributed by `workspace_id` and co-located with
 * the others, so the rows of one workspace live on one shard group and each statement, which
 * names one workspace, runs on one node.
 *
 * On a database with the `citus` extension, `distributeTables` runs after the migrations (at
 * start and in `npm run db:migrate`); it is idempotent. On plain PostgreSQL and PGlite it does
 * nothing. Every table in the schema must be classified here: a test fails on one that is not.
 */
import { getTableName, isTable, sql, type SQL } from 'drizzle-orm';

import { rowsOf } from './rows.js';
import * as schema from './schema.js';

export type Placement = 'reference' | 'distributed';

/** The column every distributed table is distributed by. */
export const DISTRIBUTION_COLUMN = 'workspace_id';

export const PLACEMENT: Readonly<Record<string, Placement>> = {
  workspaces: 'reference',
  api_keys: 'reference',
  rate_limits: 'reference',
  profiles: 'distributed',
  aliases: 'distributed',
  event_summaries: 'distributed',
  event_daily_counts: 'distributed',
  purchase_summaries: 'distributed',
  push_tokens: 'distributed',
  app_sessions: 'distributed',
  merges: 'distributed',
  idempotency_keys: 'distributed',
  outbox_messages: 'distributed',
  vendor_pauses: 'distributed',
  erasures: 'distributed',
  suppressions: 'distributed',
};

/** Every table the schema declares, by name. */
export function schemaTables(): string[] {
  return Object.values(schema)
    .filter((value) => isTable(value))
    .map((table) => getTableName(table));
}

export const DISTRIBUTED_TABLES: readonly string[] = Object.keys(PLACEMENT).filter(
  (t) => PLACEMENT[t] === 'distributed',
);
export const REFERENCE_TABLES: readonly string[] = Object.keys(PLACEMENT).filter(
  (t) => PLACEMENT[t] === 'reference',
);

/** Anything that runs a statement: a drizzle database or transaction of either driver. */
export interface Executes {
  execute(query: SQL): PromiseLike<unknown>;
}

/** The distributed table the others are co-located with. */
const COLOCATION_ANCHOR = 'profiles';

/** True when the database has the `citus` extension installed. */
export async function hasCitus(q: Executes): Promise<boolean> {
  const rows = rowsOf<{ found: boolean }>(
    await q.execute(sql`select exists (
      select 1 from pg_catalog.pg_extension where extname = 'citus') as found`),
  );
  return rows[0]?.found === true;
}

/**
 * On a database with the `citus` extension, distributes what is not yet (see distributeTables)
 * and returns the tables it changed; elsewhere does nothing and returns null.
 */
export async function distributeIfCitus(q: Executes): Promise<string[] | null> {
  return (await hasCitus(q)) ? distributeTables(q) : null;
}

/**
 * Makes the reference and distributed tables that are not yet either, in an order Citus
 * accepts: reference tables first (distributed tables reference them by foreign key), then the
 * anchor, then the rest co-located with it. Returns the tables it changed.
 */
export async function distributeTables(q: Executes): Promise<string[]> {
  const done = new Set(
    rowsOf<{ name: string }>(
      await q.execute(sql`select logicalrelid::regclass::text as name from pg_dist_partition`),
    ).map((r) => r.name.replace(/^public\./, '').replaceAll('"', '')),
  );
  const changed: string[] = [];
  for (const table of REFERENCE_TABLES) {
    if (done.has(table)) continue;
    await q.execute(sql`select create_reference_table(${table}::regclass)`);
    changed.push(table);
  }
  const distributed = [
    COLOCATION_ANCHOR,
    ...DISTRIBUTED_TABLES.filter((t) => t !== COLOCATION_ANCHOR),
  ];
  for (const table of distributed) {
    if (done.has(table)) continue;
    const colocate = table === COLOCATION_ANCHOR ? 'default' : COLOCATION_ANCHOR;
    await q.execute(
      sql`select create_distributed_table(${table}::regclass, ${DISTRIBUTION_COLUMN}, colocate_with => ${colocate})`,
    );
    changed.push(table);
  }
  return changed;
}
