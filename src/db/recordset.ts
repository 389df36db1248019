/**
 * Rows as one JSON parameter, read back by `jsonb_to_recordset`: for inserts of rows that carry
 * JSON documents (journal snapshots, delivery payloads), which would otherwise be serialized once
 * as JSON and escaped again into an array literal. One statement text for any number of rows.
 *
 * For INSERT ... SELECT only: the record's fields are converted by the function (STABLE for
 * some types), which Citus refuses on column values in an UPDATE or DELETE; those take typed
 * arrays (unnest.ts).
 */
import { sql, type SQL } from 'drizzle-orm';

import type { Column } from './unnest.js';

/** `jsonb_to_recordset($1::jsonb) as v(name type, ...)`: each row's keys are the column names. */
export function recordset(
  rows: readonly Record<string, unknown>[],
  columns: readonly Column[],
  alias = 'v',
): SQL {
  const definition = columns.map(([name, type]) => `${name} ${type}`).join(', ');
  return sql`jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as ${sql.raw(alias)}(${sql.raw(definition)})`;
}
