/** Small SQL fragments shared by the identity store. */
import { sql, type SQL } from 'drizzle-orm';

/** A whole JS array as one parameter (drizzle would otherwise spread it into a list). */
export function textArray(values: readonly string[]): SQL {
  return sql`${sql.param([...values])}::text[]`;
}

export function uuidArray(values: readonly string[]): SQL {
  return sql`${sql.param([...values])}::uuid[]`;
}

/**
 * A time column as whole milliseconds since the epoch, as Date holds it: building a Date from a
 * number costs a fraction of parsing the text the server would otherwise print.
 */
export const epochMs = (column: string): SQL =>
  sql.raw(`floor(extract(epoch from ${column}) * 1000)::int8`);

/** A json column's value: postgres.js hands it over parsed, PGlite may hand it as text. */
export function jsonOf<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}
