/** Small SQL fragments shared by the identity store. */
import { sql, type SQL } from 'drizzle-orm';

/** A whole JS array as one parameter (drizzle would otherwise spread it into a list). */
export function textArray(values: readonly string[]): SQL {
  return sql`${sql.param([...values])}::text[]`;
}

export function uuidArray(values: readonly string[]): SQL {
  return sql`${sql.param([...values])}::uuid[]`;
}
