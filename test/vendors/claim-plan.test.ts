import { randomUUID } from 'node:crypto';

import { sql, type SQL } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AuthService } from '../../src/auth/auth-service.js';
import type { Database } from '../../src/db/client.js';
import { rowsOf } from '../../src/db/rows.js';
import { DEFAULT_DISPATCHER_OPTIONS, Dispatcher } from '../../src/outbox/dispatcher.js';
import { enqueueIdentityChanges } from '../../src/outbox/enqueue.js';
import { DeliveryService } from '../../src/outbox/delivery-service.js';
import { OutboxRepository } from '../../src/outbox/outbox-repository.js';
import { QueueRepository, type Lane } from '../../src/outbox/queue-repository.js';
import { openOwnDatabase, testDatabaseUrl } from '../helpers/database.js';
import { seedBacklog } from '../helpers/outbox-backlog.js';
import { startBrazeStub, startMixpanelStub, type VendorStub } from '../helpers/vendor-stubs.js';

/**
 * The outbox's statements must read a number of rows proportional to their batch whatever the
 * backlog and whatever the planner knows: here the outbox has never been analysed (autovacuum is
 * off for it on PostgreSQL; PGlite never analyses on its own) when they run over a large backlog.
 */
const onPostgres = testDatabaseUrl() !== null;
const PROFILES = onPostgres ? 20_000 : 6_000;
const BATCH = 100;

let own: Awaited<ReturnType<typeof openOwnDatabase>>;
let database: Database;
let repo: QueueRepository;
let lane: Lane;
let braze: VendorStub;
let mixpanel: VendorStub;
/** Statements sent while `captured` is set: text and parameters. */
let captured: { query: string; params: readonly unknown[] }[] | null = null;

beforeAll(async () => {
  own = await openOwnDatabase('claim_plan', {
    onQuery: (query, params) => captured?.push({ query, params }),
  });
  braze = await startBrazeStub('k');
  mixpanel = await startMixpanelStub('t');
  database = own.database;
  repo = new QueueRepository(database.db);
  if (onPostgres) {
    await database.db.execute(sql`alter table outbox_messages set (autovacuum_enabled = false)`);
  }
  const { workspace } = await new AuthService(database.db).createWorkspace({
    name: 'plan',
    braze: { apiKey: 'k', restEndpoint: braze.url },
    mixpanel: {
      token: 't',
      apiHost: mixpanel.url,
      idMerge: 'ORIGINAL',
      serviceAccount: null,
      projectId: null,
    },
  });
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
  await braze?.close();
  await mixpanel?.close();
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
        select (select count(*)::int from outbox_messages
                  where workspace_id = ${lane.workspaceId}) as n,
               coalesce((select last_analyze is not null or last_autoanalyze is not null
                 from pg_stat_user_tables where relname = 'outbox_messages'), false) as analysed`),
    );
    expect(Number(row.n)).toBe(PROFILES * 3 * 2);
    expect(BATCH).toBeLessThan(PROFILES / 10);
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

/** Re-binds a captured statement's `$n` placeholders as parameters of a drizzle SQL object. */
function rebind(query: string, params: readonly unknown[]): SQL {
  const parts = query.split(/\$(\d+)\b/);
  const chunks: SQL[] = [];
  parts.forEach((part, i) => {
    chunks.push(i % 2 === 0 ? sql.raw(part) : sql`${params[Number(part) - 1]}`);
  });
  return sql.join(chunks);
}

describe('every statement the outbox sends on a never-analysed backlog', () => {
  it('reads by index, about as many rows as its batch', async () => {
    const d = new Dispatcher(database.db, pino({ level: 'silent' }), {
      ...DEFAULT_DISPATCHER_OPTIONS,
      batchSize: BATCH,
      maxAttempts: 1,
    });
    const other = { workspaceId: lane.workspaceId, vendor: 'MIXPANEL' as const };
    await database.db.execute(
      sql`delete from vendor_pauses where workspace_id = ${lane.workspaceId}`,
    );
    // Refusals, so that dead rows are requeued below.
    braze.fallback = { kind: 'status', status: 400, body: { message: 'no' } };
    captured = [];
    await d.runOnce();
    braze.fallback = { kind: 'ok' };
    await d.runOnce();
    await d.retain();
    const held = await repo.claim(other, 'plan-holder', BATCH, 60_000, new Date());
    const ids = held.map((r) => r.id);
    await repo.renew(other, ids, 'plan-holder', new Date(Date.now() + 120_000));
    await repo.release(other, ids, 'plan-holder', new Date());
    const dead = rowsOf<{ id: number; change_id: string }>(
      await database.db.execute(sql`
        select id, change_id from outbox_messages
        where workspace_id = ${lane.workspaceId} and status = 'DEAD' limit 20`),
    );
    expect(dead.length).toBe(20);
    await database.db.transaction((tx) =>
      new OutboxRepository(database.db).requeue(
        tx,
        lane.workspaceId,
        dead.map((r) => Number(r.id)),
        new Date(),
      ),
    );
    // The API's reads of deliveries: a page, and the deliveries of changes.
    const deliveries = new DeliveryService(database.db);
    await deliveries.list(lane.workspaceId, {}, 20, null);
    await deliveries.createLoader(lane.workspaceId).loadMany(dead.map((r) => r.change_id));
    // Changes queued behind existing heads, and a new queue.
    const change = (profile: number) => ({
      kind: 'identified' as const,
      index: 0,
      mergeId: null,
      changeId: randomUUID(),
      externalId: `user-${profile}`,
      profileId: held[profile % held.length]?.profileId ?? randomUUID(),
      absorbedProfileId: null,
      behavior: 'MERGE' as const,
      identifier: { kind: 'anonId' as const, anonId: randomUUID() },
      anonIds: [randomUUID()],
      aliases: [],
      survivorAliasLabels: [],
    });
    await database.db.transaction((tx) =>
      enqueueIdentityChanges(
        tx,
        { workspaceId: lane.workspaceId, anonIdLabel: 'anon_id', now: new Date() },
        [change(1), change(2), { ...change(3), profileId: randomUUID() }],
      ),
    );
    const statements = captured.filter(({ query }) =>
      /^\s*(select|update|insert|delete|with)\b/i.test(query),
    );
    captured = null;
    const distinct = new Map(statements.map((s) => [s.query, s]));
    expect(distinct.size).toBeGreaterThan(10);
    for (const { query, params } of distinct.values()) {
      const plan = await explain(rebind(query, params));
      const { read, seqScans } = outboxRowsRead(plan);
      expect({ query, seqScans, tooMany: read > 3 * BATCH }).toEqual({
        query,
        seqScans: 0,
        tooMany: false,
      });
    }
  });
});
