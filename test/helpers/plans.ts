/** Reading EXPLAIN (ANALYZE, FORMAT JSON) plans: how many rows a statement read, on either driver. */
import { sql, type SQL } from 'drizzle-orm';

import type { Queryable } from '../../src/db/client.js';
import { rowsOf } from '../../src/db/rows.js';

export interface PlanNode {
  'Relation Name'?: string;
  'Node Type': string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

/** Rows read from tables and indexes by every scan of the plan, loops included. */
export function rowsRead(node: PlanNode): number {
  const own =
    node['Relation Name'] !== undefined
      ? (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0)) * node['Actual Loops']
      : 0;
  return (node.Plans ?? []).reduce((sum, child) => sum + rowsRead(child), own);
}

/** Runs EXPLAIN (ANALYZE) of a statement (which executes it) and returns its top plan node. */
export async function explainAnalyze(q: Queryable, statement: SQL): Promise<PlanNode> {
  const [row] = rowsOf<Record<string, unknown>>(
    await q.execute(sql`explain (analyze, format json) ${statement}`),
  );
  const value = row?.['QUERY PLAN'];
  const plan = (typeof value === 'string' ? JSON.parse(value) : value) as { Plan: PlanNode }[];
  return plan[0].Plan;
}
