/**
 * Rows as typed arrays, one parameter per column, unnested by SQL: the statement's text is the
 * same whatever the number of rows (prepared and planned once, cheap to build), and casts apply
 * to parameters, never to column values (see DESIGN, "Distributed tables").
 */
import { sql, type SQL } from 'drizzle-orm';

import { pgArray } from '../lib/pg-array.js';

export type Value = string | number | null;

/** A column of the unnested rows: its name and its PostgreSQL type. */
export type Column = readonly [name: string, type: string];

/** `unnest($1::t1[], $2::t2[], ...) as v(c1, c2, ...)` over the given rows' columns. */
export function unnestRows(
  columns: readonly Column[],
  rows: readonly (readonly Value[])[],
  alias = 'v',
): SQL {
  const arrays = columns.map(
    ([, type], i) => sql`${pgArray(rows.map((r) => r[i]))}::${sql.raw(type)}[]`,
  );
  return sql`unnest(${sql.join(arrays, sql`, `)}) as ${sql.raw(alias)}(${columnNames(columns)})`;
}

/** `c1, c2, ...`: the columns' names, as an insert lists them. */
export function columnNames(columns: readonly Column[]): SQL {
  return sql.raw(columns.map(([name]) => name).join(', '));
}

/** `v.c1, v.c2, ...`: the unnested columns, in order. */
export function columnsOf(columns: readonly Column[], alias = 'v'): SQL {
  return sql.raw(columns.map(([name]) => `${alias}.${name}`).join(', '));
}

/** The same time for every row: an ISO string, or null. */
export const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());
