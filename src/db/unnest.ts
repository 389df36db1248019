/**
 * Rows as typed arrays, one parameter per column, unnested by SQL: the statement's text is the
 * same whatever the number of rows (prepared and planned once, cheap to build), and casts apply
 * to parameters, never to column values (see DESIGN, "Distributed tables"). Times travel as
 * milliseconds since the epoch (msOf), turned back into timestamptz by `to_timestamp`, which is
 * IMMUTABLE: neither side formats or parses dates for them.
 */
import { sql, type SQL } from 'drizzle-orm';

import { pgArray } from '../lib/pg-array.js';

export type Value = string | number | null;

/** A column of the unnested rows: its name and its PostgreSQL type. */
export type Column = readonly [name: string, type: string];

/**
 * `unnest($1::t1[], $2::t2[], ...) as v(c1, c2, ...)` over the given rows' columns. The values of
 * a `timestamptz` column are milliseconds (msOf): they are sent as `float8[]` and converted in a
 * subquery, so that `v`'s columns have their tables' types.
 */
export function unnestRows(
  columns: readonly Column[],
  rows: readonly (readonly Value[])[],
  alias = 'v',
): SQL {
  const arrays = columns.map(
    ([, type], i) => sql`${pgArray(rows.map((r) => r[i]))}::${sql.raw(sentAs(type))}[]`,
  );
  const unnested = sql.join(arrays, sql`, `);
  if (!columns.some(([, type]) => type === TIME)) {
    return sql`unnest(${unnested}) as ${sql.raw(alias)}(${columnNames(columns)})`;
  }
  const converted = columns
    .map(([name, type]) =>
      type === TIME ? `to_timestamp(u.${name} / 1000) as ${name}` : `u.${name}`,
    )
    .join(', ');
  return sql`(select ${sql.raw(converted)} from unnest(${unnested}) as u(${columnNames(columns)}))
    as ${sql.raw(alias)}`;
}

const TIME = 'timestamptz';

/** The array type a column's values travel in. */
function sentAs(type: string): string {
  return type === TIME ? 'float8' : type;
}

/** `c1, c2, ...`: the columns' names, as an insert lists them. */
export function columnNames(columns: readonly Column[]): SQL {
  return sql.raw(columns.map(([name]) => name).join(', '));
}

/** `v.c1, v.c2, ...`: the unnested columns, in order. */
export function columnsOf(columns: readonly Column[], alias = 'v'): SQL {
  return sql.raw(columns.map(([name]) => `${alias}.${name}`).join(', '));
}

/**
 * A time as a `timestamptz` column of unnestRows takes it: milliseconds since the epoch. Divided
 * by 1000 as a float8, it comes back exact to the microsecond for any time before 2106 (times a
 * caller sends are refused more than an hour ahead).
 */
export const msOf = (d: Date | null): number | null => (d === null ? null : d.getTime());

/** A time as a single parameter (`${iso(now)}::timestamptz`): an ISO string, or null. */
export const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());
