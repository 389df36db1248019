import { randomUUID } from 'node:crypto';

import { sql, type SQL } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AuthService } from '../../src/auth/auth-service.js';
import type { Database } from '../../src/db/client.js';
import { rowsOf } from '../../src/db/rows.js';
import { QueueRepository, type Lane } from '../../src/outbox/queue-repository.js';
import { openOwnDatabase, testDatabaseUrl } from '../helpers/database.js';
import { seedBacklog } from '../helpers/outbox-backlog.js';

/**
 * The claim must read a number of rows proportional to its batch whatever the backlog and
 * whatever the planner knows: here the outbox has never been analysed (autovacuum is off for it
 * on PostgreSQL; PGlite never analyses on its own) when the claim runs over a large backlog.
 */
const onPostgres = testDatabaseUrl() !== null;
const PROFILES = onPostgres ? 20_000 : 6_000;
const BATCH = 100;

let own: Awaited<ReturnType<typeof openOwnDatabase>>;
let database: Database;
let repo: QueueRepository;
let lane: Lane;

beforeAll(async () => {
  own = await openOwnDatabase('claim_plan');
  database = own.database;
  repo = new QueueRepository(database.db);
  if (onPostgres) {
    await database.db.execute(sql`alter table outbox_messages set (autovacuum_enabled = false)`);
  }
  const { workspace } = await new AuthService(database.db).createWorkspace({ name: 'plan' });
  lane = { workspaceId: workspace.id, vendor: 'BRAZE' };
  // A second workspace's backlog shares the indexes and must not be read either.
  const { workspace: other } = await new AuthService(database.db).createWorkspace({ name: 'o' });
  for (const workspaceId of [workspace.id, other.id]) {
    await seedBacklog(database.db, {
      workspaceId,
      profiles: PROFILES,
      perProfile: 3,
      vendors: ['BRAZE', 'MIXPANEL'],
    });
  }
}, 180_000);
afterAll(async () => {
  await own?.close();
});

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

/** Runs the claim under EXPLAIN ANALYZE (its effects rolled back) and returns the plan. */
async function explain(query: SQL): Promise<PlanNode> {
  let plan: PlanNode | undefined;
  await database.db
    .transaction(async (tx) => {
      const [row] = rowsOf<Record<string, unknown>>(
        await tx.execute(sql`explain (analyze, buffers, format json) ${query}`),
      );
      const value = row?.['QUERY PLAN'];
      const parsed = (typeof value === 'string' ? JSON.parse(value) : value) as {
        Plan: PlanNode;
      }[];
      plan = parsed[0].Plan;
      throw new Error('rollback');
    })
    .catch((error: unknown) => {
      if (!(error instanceof Error) || error.message !== 'rollback') throw error;
    });
  return plan!;
}

/** Outbox rows every scan of the plan produced or filtered out. */
function outboxRowsRead(node: PlanNode): { read: number; seqScans: number } {
  const own =
    node['Relation Name'] === 'outbox_messages' && /Scan/.test(node['Node Type'])
      ? (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0)) * node['Actual Loops']
      : 0;
  const seq = node['Node Type'] === 'Seq Scan' && node['Relation Name'] === 'outbox_messages';
  return (node.Plans ?? [])
    .map(outboxRowsRead)
    .reduce((sum, r) => ({ read: sum.read + r.read, seqScans: sum.seqScans + r.seqScans }), {
      read: own,
      seqScans: seq ? 1 : 0,
    });
}

describe('the outbox claim on a never-analysed table', () => {
  it('has a large backlog the planner knows nothing about', async () => {
    const [row] = rowsOf<{ n: number; analysed: boolean }>(
      await database.db.execute(sql`
        select (select count(*)::int from outbox_messages) as n,
               coalesce((select last_analyze is not null or last_autoanalyze is not null
                 from pg_stat_user_tables where relname = 'outbox_messages'), false) as analysed`),
    );
    expect(Number(row.n)).toBe(PROFILES * 3 * 2 * 2);
    expect(row.analysed).toBe(false);
  });

  it('reads by index only about as many rows as it claims', async () => {
    const plan = await explain(
      repo.claimQuery(lane, `plan-${randomUUID()}`, BATCH, 60_000, new Date()).getSQL(),
    );
    const { read, seqScans } = outboxRowsRead(plan);
    expect(seqScans).toBe(0);
    expect(plan['Actual Rows']).toBe(BATCH);
    expect(read).toBeLessThanOrEqual(3 * BATCH);
  });

  it('skips rows other claims hold without reading them again', async () => {
    for (let i = 0; i < 5; i++) {
      const claimed = await repo.claim(lane, `held-${i}`, BATCH, 60_000, new Date());
      expect(claimed).toHaveLength(BATCH);
    }
    const plan = await explain(
      repo.claimQuery(lane, `plan-${randomUUID()}`, BATCH, 60_000, new Date()).getSQL(),
    );
    const { read, seqScans } = outboxRowsRead(plan);
    expect(seqScans).toBe(0);
    expect(plan['Actual Rows']).toBe(BATCH);
    expect(read).toBeLessThanOrEqual(3 * BATCH);
  });

  it('reads no row at all for a paused lane', async () => {
    await repo.pause(lane, new Date(Date.now() + 60_000), 'test');
    const plan = await explain(
      repo.claimQuery(lane, `plan-${randomUUID()}`, BATCH, 60_000, new Date()).getSQL(),
    );
    expect(plan['Actual Rows']).toBe(0);
    expect(outboxRowsRead(plan).read).toBe(0);
  });
});
