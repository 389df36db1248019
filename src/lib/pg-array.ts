/**
 * PostgreSQL array literals, so that a list travels as one parameter (`$1::bigint[]`) and SQL
 * unnests it: the casts then apply to parameters, never to column values, which keeps set-based
 * statements valid on Citus as on PostgreSQL and PGlite.
 */
export function pgArray(values: readonly (string | number | null)[]): string {
  const items = values.map((value) =>
    value === null ? 'NULL' : `"${String(value).replace(/[\\"]/g, (c) => `\\${c}`)}"`,
  );
  return `{${items.join(',')}}`;
}
