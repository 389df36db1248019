/**
 * Writes a plan's changed profiles back as the difference from what was loaded: per table, the
 * rows that appeared or changed are upserted and the rows that went away are deleted; nothing
 * else is touched. So a merge costs what it changes, not what the profiles have accumulated, and
 * every statement is one per table for the whole request.
 *
 * The statements are independent of each other's results, so they are sent together: inside a
 * transaction postgres.js pipelines them on its connection and the server runs them in order, a
 * single round trip for all of them. Every statement takes its rows as typed arrays, so casts
 * apply to parameters, never to column values (see DESIGN, "Distributed tables"), and its text
 * does not depend on the number of rows.
 */
import { sql, type SQL } from 'drizzle-orm';

import type { Tx } from '../../db/client.js';
import {
  columnNames,
  columnsOf,
  msOf,
  unnestRows,
  type Column,
  type Value,
} from '../../db/unnest.js';
import type { ProfileState } from '../engine/model.js';
import { ACTIVITY_COLUMNS, STANDARD_ATTRIBUTES } from './track-repository.js';

/** One table's difference: keyed rows before and after. */
interface TableDiff {
  readonly upserts: Value[][];
  readonly deletes: Value[][];
}

/**
 * A profile's rows of one table, key columns first, in the order of the table's spec below.
 * `other` is the same profile on the other side of the change (null when it was not loaded):
 * only the daily counts look at it.
 */
type RowsOf = (s: ProfileState, other: ProfileState | null) => Value[][];

const TABLES = {
  aliases: (s) => s.aliases.map((a) => [a.aliasLabel, a.aliasName, s.id]),
  push_tokens: (s) => s.pushTokens.map((t) => [t.appId, t.token, s.id, t.platform]),
  event_summaries: (s) =>
    s.events.map((e) => [s.id, e.name, e.count, msOf(e.firstAt), msOf(e.lastAt)]),
  event_daily_counts: dailyRows,
  purchase_summaries: (s) =>
    s.purchases
      ? [
          [
            s.id,
            s.purchases.count,
            s.purchases.totalCents,
            msOf(s.purchases.firstAt),
            msOf(s.purchases.lastAt),
          ],
        ]
      : [],
  app_sessions: (s) =>
    s.apps.map((a) => [
      s.id,
      a.appId,
      a.sessionCount,
      msOf(a.firstSessionAt),
      msOf(a.lastSessionAt),
      a.totalSeconds,
    ]),
} satisfies Record<string, RowsOf>;

/**
 * The daily counts of the events whose counts may differ: an event whose counts are still the
 * very object that was loaded (the engine copies what it changes) has the same rows on both
 * sides, so its days are not compared at all. A merge into a profile with a long history then
 * costs the days it changes, not the days the profile holds.
 */
function dailyRows(s: ProfileState, other: ProfileState | null): Value[][] {
  const rows: Value[][] = [];
  const otherDaily = other && new Map(other.events.map((o) => [o.name, o.daily]));
  for (const e of s.events) {
    if (otherDaily?.get(e.name) === e.daily) continue;
    for (const day in e.daily) rows.push([s.id, e.name, day, e.daily[day]]);
  }
  return rows;
}

/** Columns (name and type) of each table, key columns first, and how many are the key. */
const SPECS: Record<keyof typeof TABLES, { columns: readonly Column[]; key: number }> = {
  aliases: {
    columns: [
      ['alias_label', 'text'],
      ['alias_name', 'text'],
      ['profile_id', 'uuid'],
    ],
    key: 2,
  },
  push_tokens: { columns: ACTIVITY_COLUMNS.pushTokens, key: 2 },
  event_summaries: { columns: ACTIVITY_COLUMNS.events, key: 2 },
  event_daily_counts: { columns: ACTIVITY_COLUMNS.days, key: 3 },
  purchase_summaries: { columns: ACTIVITY_COLUMNS.purchases, key: 1 },
  app_sessions: { columns: ACTIVITY_COLUMNS.sessions, key: 2 },
};

/** The statements that turn `before` into `after` (profiles not in `after` are left alone). */
export function stateWrites(
  ws: string,
  before: readonly ProfileState[],
  after: readonly ProfileState[],
): SQL[] {
  if (after.length === 0) return [];
  const loaded = new Map(before.map((s) => [s.id, s]));
  const pairs = after.map((s) => [loaded.get(s.id) ?? null, s] as const);
  const statements: SQL[] = [profileUpdate(ws, after)];
  for (const table of Object.keys(TABLES) as (keyof typeof TABLES)[]) {
    const rowsOf: RowsOf = TABLES[table];
    const spec = SPECS[table];
    const old = new Map<string, Value[]>();
    const now = new Map<string, Value[]>();
    for (const [was, is] of pairs) {
      if (was) for (const row of rowsOf(was, is)) old.set(keyOf(row, spec.key), row);
      for (const row of rowsOf(is, was)) now.set(keyOf(row, spec.key), row);
    }
    const { upserts, deletes } = diff(old, now, spec.key);
    if (deletes.length > 0) statements.push(deleteRows(ws, table, spec, deletes));
    if (upserts.length > 0) statements.push(upsertRows(ws, table, spec, upserts));
  }
  return statements;
}

function diff(
  before: ReadonlyMap<string, Value[]>,
  after: ReadonlyMap<string, Value[]>,
  keyColumns: number,
): TableDiff {
  const upserts: Value[][] = [];
  const deletes: Value[][] = [];
  for (const [key, row] of after) {
    const old = before.get(key);
    if (!old || !sameRow(old, row)) upserts.push(row);
  }
  for (const [key, row] of before) if (!after.has(key)) deletes.push(row.slice(0, keyColumns));
  return { upserts, deletes };
}

function sameRow(a: readonly Value[], b: readonly Value[]): boolean {
  for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function keyOf(row: readonly Value[], key: number): string {
  let k = String(row[0] ?? '');
  for (let i = 1; i < key; i++) k += `\u0001${row[i] ?? ''}`;
  return k;
}

function deleteRows(
  ws: string,
  table: string,
  spec: { columns: readonly Column[]; key: number },
  keys: Value[][],
): SQL {
  const keyColumns = spec.columns.slice(0, spec.key);
  return sql`delete from ${sql.identifier(table)} where workspace_id = ${ws}
    and (${columnNames(keyColumns)}) in (select ${columnNames(keyColumns)}
      from ${unnestRows(keyColumns, keys)})`;
}

/**
 * Rows as typed arrays too: the statement's text is the same whatever the number of rows, so it
 * is prepared once and planned once, and building it costs the same for 1 row or 1,000.
 */
function upsertRows(
  ws: string,
  table: string,
  spec: { columns: readonly Column[]; key: number },
  rows: Value[][],
): SQL {
  const names = spec.columns.map(([name]) => name);
  const keys = ['workspace_id', ...names.slice(0, spec.key)].join(', ');
  const updates = names
    .slice(spec.key)
    .map((n) => `${n} = excluded.${n}`)
    .join(', ');
  return sql`insert into ${sql.identifier(table)} (workspace_id, ${columnNames(spec.columns)})
    select ${ws}::uuid, ${columnsOf(spec.columns)}
    from ${unnestRows(spec.columns, rows)}
    on conflict (${sql.raw(keys)}) do update set ${sql.raw(updates)}`;
}

const PROFILE_COLUMNS: [string, string][] = [
  ['id', 'uuid'],
  ['external_id', 'text'],
  ...Object.values(STANDARD_ATTRIBUTES).map((c) => [c, 'text'] as [string, string]),
  ['custom_attributes', 'jsonb'],
  ['session_count', 'int'],
  ['first_session_at', 'timestamptz'],
  ['last_session_at', 'timestamptz'],
  ['merged_into', 'uuid'],
  ['updated_at', 'timestamptz'],
];

function profileUpdate(ws: string, states: readonly ProfileState[]): SQL {
  const rows = states.map((s) => [
    s.id,
    s.externalId,
    ...Object.keys(STANDARD_ATTRIBUTES).map(
      (k) => s.attributes[k as keyof typeof STANDARD_ATTRIBUTES] ?? null,
    ),
    JSON.stringify(s.customAttributes),
    s.sessionCount,
    msOf(s.firstSessionAt),
    msOf(s.lastSessionAt),
    s.mergedInto,
    msOf(s.updatedAt),
  ]);
  const sets = PROFILE_COLUMNS.slice(1)
    .map(([name]) => `${name} = v.${name}`)
    .join(', ');
  return sql`update profiles p set ${sql.raw(sets)}
    from ${unnestRows(PROFILE_COLUMNS, rows)}
    where p.workspace_id = ${ws} and p.id = v.id`;
}

/** Sends statements together (pipelined inside a transaction) and waits for all of them. */
export async function runTogether(tx: Tx, statements: readonly SQL[]): Promise<void> {
  await Promise.all(statements.map((s) => tx.execute(s)));
}
