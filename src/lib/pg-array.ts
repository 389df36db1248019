/**
 * PostgreSQL array literals, so that a list travels as one parameter (`$1::bigint[]`) and SQL
 * unnests it: the casts then apply to parameters, never to column values, which keeps set-based
 * statements valid on Citus as on PostgreSQL and PGlite.
 */
export function pgArray(values: readonly (string | number | null)[]): string {
  let literal = '{';
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (i > 0) literal += ',';
    if (value === null) literal += 'NULL';
    else if (typeof value === 'number') literal += String(value);
    else literal += `"${NEEDS_ESCAPE.test(value) ? value.replace(ESCAPED, '\\$&') : value}"`;
  }
  return `${literal}}`;
}

const NEEDS_ESCAPE = /[\\"]/;
const ESCAPED = /[\\"]/g;
