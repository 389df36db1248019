import { randomUUID } from 'node:crypto';

import { and, eq, inArray } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AuthService } from '../../src/auth/auth-service.js';
import type { Database } from '../../src/db/client.js';
import {
  DEFAULT_DISPATCHER_OPTIONS,
  Dispatcher,
  type DispatcherDeps,
  type DispatcherOptions,
} from '../../src/outbox/dispatcher.js';
import { enqueueIdentityChanges, type IdentifiedChange } from '../../src/outbox/enqueue.js';
import { OutboxRepository } from '../../src/outbox/outbox-repository.js';
import { isErasure, type OutboxMessage } from '../../src/outbox/message.js';
import { outboxMessages } from '../../src/outbox/outbox.sql.js';
import { QueueRepository } from '../../src/outbox/queue-repository.js';
import { openOwnDatabase } from '../helpers/database.js';
import { seedBacklog } from '../helpers/outbox-backlog.js';
import { startBrazeStub, type VendorStub } from '../helpers/vendor-stubs.js';

let own: Awaited<ReturnType<typeof openOwnDatabase>>;
let database: Database;
let braze: VendorStub;
let collecting: string[] | null = null;
const dispatchers: Dispatcher[] = [];
const stubs: VendorStub[] = [];

beforeAll(async () => {
  own = await openOwnDatabase('queue', { onQuery: (q) => collecting?.push(q) });
  database = own.database;
  braze = await stub();
});
afterAll(async () => {
  for (const d of dispatchers) await d.stop();
  for (const s of stubs) await s.close();
  await own?.close();
});

async function stub(): Promise<VendorStub> {
  const s = await startBrazeStub('k');
  stubs.push(s);
  return s;
}

function dispatcher(
  options: Partial<DispatcherOptions> = {},
  deps: DispatcherDeps = {},
): Dispatcher {
  const d = new Dispatcher(
    database.db,
    pino({ level: process.env['DEBUG_LOG'] ?? 'silent' }),
    {
      ...DEFAULT_DISPATCHER_OPTIONS,
      pollMs: 20,
      backoffBaseMs: 20,
      backoffMaxMs: 100,
      requestTimeoutMs: 5_000,
      ...options,
    },
    deps,
  );
  dispatchers.push(d);
  return d;
}

async function workspace(vendor: VendorStub = braze): Promise<string> {
  const { workspace } = await new AuthService(database.db).createWorkspace({
    name: `queue-${randomUUID()}`,
    braze: { apiKey: 'k', restEndpoint: vendor.url },
  });
  return workspace.id;
}

function change(externalId: string, profileId: string, anonId = randomUUID()): IdentifiedChange {
  return {
    kind: 'identified',
    index: 0,
    mergeId: null,
    changeId: randomUUID(),
    externalId,
    profileId,
    absorbedProfileId: null,
    behavior: 'MERGE',
    identifier: { kind: 'anonId', anonId },
    anonIds: [anonId],
    aliases: [],
    survivorAliasLabels: [],
  };
}

async function enqueue(workspaceId: string, changes: IdentifiedChange[]): Promise<void> {
  await database.db.transaction((tx) =>
    enqueueIdentityChanges(tx, { workspaceId, anonIdLabel: 'anon_id', now: new Date() }, changes),
  );
}

function rowsOf(workspaceId: string) {
  return database.db
    .select()
    .from(outboxMessages)
    .where(eq(outboxMessages.workspaceId, workspaceId))
    .orderBy(outboxMessages.id);
}

const anonOf = (row: { payload: OutboxMessage }) =>
  isErasure(row.payload) ? '' : row.payload.anonIds[0];

/** Waits for `done`, running `step` in between (a dispatcher cycle, or nothing). */
async function until(
  done: () => Promise<boolean>,
  step: () => Promise<unknown> = () => new Promise((r) => setTimeout(r, 20)),
  ms = 20_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await step();
  }
}

const allDelivered = (workspaceId: string) => async () =>
  (await rowsOf(workspaceId)).every((r) => r.status === 'DELIVERED');

/** Anon ids a Braze stub accepted, in the order the requests arrived. */
function accepted(s: VendorStub): string[] {
  return s.requests
    .filter((r) => r.answer === 'ok' || r.answer === 'slow')
    .flatMap((r) =>
      (r.payload?.aliases_to_identify ?? []).map(
        (e: { user_alias: { alias_name: string } }) => e.user_alias.alias_name,
      ),
    );
}

describe('queues per (workspace, vendor, profile)', () => {
  it('keep one head per queue and park every later row behind it', async () => {
    const ws = await workspace();
    const [p, q] = [randomUUID(), randomUUID()];
    await enqueue(ws, [change('u-p', p), change('u-q', q), change('u-p', p), change('u-p', p)]);
    await enqueue(ws, [change('u-p', p), change('u-q', q)]);
    const rows = await rowsOf(ws);
    const parked = (profile: string) =>
      rows.filter((r) => r.profileId === profile).map((r) => r.parked);
    expect(parked(p)).toEqual([false, true, true, true]);
    expect(parked(q)).toEqual([false, true]);
  });

  it('deliver a queue in order, its later rows held back while the head retries', async () => {
    const ws = await workspace();
    const p = randomUUID();
    const changes = [1, 2, 3, 4].map(() => change('u-order', p));
    const first = changes[0].anonIds[0];
    braze.queue(first, { kind: 'status', status: 500 }, { kind: 'status', status: 503 });
    await enqueue(ws, changes.slice(0, 2));
    await enqueue(ws, changes.slice(2));
    const d = dispatcher();
    await until(allDelivered(ws), () => d.runOnce());
    const anonIds = changes.map((c) => c.anonIds[0]);
    const seen = braze.requests
      .flatMap((r) =>
        (r.payload?.aliases_to_identify ?? []).map((e: { user_alias: { alias_name: string } }) => [
          e.user_alias.alias_name,
          r.answer,
        ]),
      )
      .filter(([anon]) => anonIds.includes(anon));
    // Two refusals of the head, then each row once, in order.
    expect(seen).toEqual([[first, '500'], [first, '503'], ...anonIds.map((a) => [a, 'ok'])]);
  });

  it('lose no row and keep every queue in order when enqueuers race a running dispatcher', async () => {
    const ws = await workspace();
    const profiles = Array.from({ length: 12 }, () => randomUUID());
    const d = dispatcher({ workers: 4, batchSize: 7, pollMs: 5 });
    d.start();
    const enqueued: IdentifiedChange[] = [];
    try {
      await Promise.all(
        Array.from({ length: 6 }, async (_, worker) => {
          for (let round = 0; round < 15; round++) {
            const batch = Array.from({ length: 1 + ((worker + round) % 3) }, (_, i) => {
              const profile = profiles[(worker * 7 + round * 3 + i) % profiles.length];
              return change(`u-${profile}`, profile);
            });
            // Some heads are refused once, so queues wait behind a retrying head.
            if (round % 4 === 0) braze.queue(batch[0].anonIds[0], { kind: 'status', status: 500 });
            await enqueue(ws, batch);
            enqueued.push(...batch);
          }
        }),
      );
      await until(allDelivered(ws));
    } finally {
      await d.stop();
    }
    const rows = await rowsOf(ws);
    expect(rows).toHaveLength(enqueued.length);
    const delivered = accepted(braze);
    for (const profile of profiles) {
      const queue = rows.filter((r) => r.profileId === profile).map(anonOf);
      const arrived = delivered.filter((a) => queue.includes(a));
      expect(arrived).toEqual(queue); // each once, in the queue's order
    }
  });

  it('put a retried dead delivery back behind the queue head, or make it the head', async () => {
    const ws = await workspace();
    const p = randomUUID();
    const [dead, next] = [change('u-rq', p), change('u-rq', p)];
    braze.queue(dead.anonIds[0], {
      kind: 'status',
      status: 400,
      body: { message: 'Invalid request' },
    });
    await enqueue(ws, [dead, next]);
    const d = dispatcher();
    await until(
      async () => (await rowsOf(ws))[1]?.status === 'DELIVERED',
      () => d.runOnce(),
    );
    const later = change('u-rq', p);
    await enqueue(ws, [later]); // the queue's head now
    const [deadRow] = await rowsOf(ws);
    expect(deadRow.status).toBe('DEAD');
    const repo = new OutboxRepository(database.db);
    await database.db.transaction((tx) => repo.requeue(tx, ws, [deadRow.id], new Date()));
    const queued = await rowsOf(ws);
    expect(queued.map((r) => [r.status, r.parked])).toEqual([
      ['PENDING', true],
      ['DELIVERED', false],
      ['PENDING', false],
    ]);
    await until(allDelivered(ws), () => d.runOnce());
    const order = accepted(braze).filter((a) => [dead, later].some((c) => c.anonIds[0] === a));
    expect(order).toEqual([later.anonIds[0], dead.anonIds[0]]);

    // With no head waiting, the retried row is the head at once.
    const alone = change('u-rq2', randomUUID());
    braze.queue(alone.anonIds[0], { kind: 'status', status: 400, body: { message: 'no' } });
    await enqueue(ws, [alone]);
    await until(
      async () => (await rowsOf(ws))[3].status === 'DEAD',
      () => d.runOnce(),
    );
    const aloneRow = (await rowsOf(ws))[3];
    await database.db.transaction((tx) => repo.requeue(tx, ws, [aloneRow.id], new Date()));
    expect((await rowsOf(ws))[3]).toMatchObject({ status: 'PENDING', parked: false });
  });
});

describe('the dispatcher', () => {
  it('sends at once what this process queued, for a workspace newer than its last look', async () => {
    let discovered!: () => void;
    const firstLook = new Promise<void>((r) => (discovered = r));
    // No second discovery during this test.
    const d = dispatcher({ pollMs: 60_000 }, { observer: { discovered: () => discovered() } });
    d.start();
    await firstLook;
    const ws = await workspace();
    await enqueue(ws, [change('u-nudged', randomUUID())]);
    d.nudge(ws);
    try {
      await until(allDelivered(ws), undefined, 10_000);
    } finally {
      await d.stop();
    }
  });

  it("sends another workspace's fresh delivery while every batch of a stuck one hangs", async () => {
    const stuck = await stub();
    stuck.fallback = { kind: 'hang' };
    const a = await workspace(stuck);
    await seedBacklog(database.db, {
      workspaceId: a,
      profiles: 600,
      perProfile: 1,
      vendors: ['BRAZE'],
    });
    const d = dispatcher({ workers: 3, batchSize: 100, requestTimeoutMs: 60_000 });
    d.start();
    await until(async () => stuck.requests.length >= 2);
    const b = await workspace();
    await enqueue(b, [change('u-fresh', randomUUID())]);
    await until(allDelivered(b));
    expect((await rowsOf(a)).filter((r) => r.status !== 'PENDING')).toEqual([]);
    await d.stop();
    stuck.releaseHanging();
    await database.db.delete(outboxMessages).where(eq(outboxMessages.workspaceId, a));
  });

  it('stops at once during a large drain: requests cancelled, rows released, nothing lost', async () => {
    const stuck = await stub();
    stuck.fallback = { kind: 'hang' };
    const ws = await workspace(stuck);
    const total = await seedBacklog(database.db, {
      workspaceId: ws,
      profiles: 1000,
      perProfile: 2,
      vendors: ['BRAZE'],
    });
    const d = dispatcher({ workers: 4, batchSize: 200, requestTimeoutMs: 60_000 });
    d.start();
    await until(async () => stuck.requests.length >= 6);
    // A stop that waited for the vendor would take the 60 s request timeout: beyond the test's.
    await d.stop();
    const rows = await rowsOf(ws);
    expect(rows).toHaveLength(total);
    expect(rows.filter((r) => r.claimedBy !== null || r.status !== 'PENDING')).toEqual([]);
    expect(rows.filter((r) => r.attempts !== 0)).toEqual([]);
    expect(rows.filter((r) => !r.parked)).toHaveLength(1000); // one head per queue still
    stuck.releaseHanging();
    await database.db.delete(outboxMessages).where(eq(outboxMessages.workspaceId, ws));
  });

  it('retries a row it cannot translate alone, gives up on it by the attempt limit, then moves its queue on', async () => {
    const ws = await workspace();
    const [p, q] = [randomUUID(), randomUUID()];
    const broken = {
      ...change('u-broken', p),
      identifier: { kind: 'unknown' } as unknown as IdentifiedChange['identifier'],
    };
    const behind = change('u-broken', p);
    const other = change('u-other', q);
    await enqueue(ws, [broken, behind, other]);
    const d = dispatcher({ maxAttempts: 3, backoffBaseMs: 5, backoffMaxMs: 10 });
    const byChange = async (c: IdentifiedChange) =>
      (await rowsOf(ws)).find((r) => r.changeId === c.changeId)!;
    await d.runOnce();
    expect((await byChange(other)).status).toBe('DELIVERED');
    const b1 = await byChange(broken);
    expect(b1).toMatchObject({ status: 'RETRYING', attempts: 1, claimedBy: null });
    expect(b1.lastError).toMatch(/could not build the request/);
    expect(await byChange(behind)).toMatchObject({ status: 'PENDING', parked: true });
    await until(
      async () => (await byChange(broken)).status === 'DEAD',
      () => d.runOnce(),
    );
    expect(await byChange(broken)).toMatchObject({ attempts: 3 });
    await until(
      async () => (await byChange(behind)).status === 'DELIVERED',
      () => d.runOnce(),
    );
  });

  it('keeps its lease through a send slower than the lease, so no other dispatcher sends it again', async () => {
    const slow = await stub();
    const ws = await workspace(slow);
    const c = change('u-slow', randomUUID());
    slow.queue(c.anonIds[0], { kind: 'slow', ms: 2_500 });
    await enqueue(ws, [c]);
    const options = { leaseMs: 1_000, requestTimeoutMs: 5_000 };
    const [first, second] = [dispatcher(options), dispatcher(options)];
    let sending = true;
    const sent = first.runOnce().finally(() => (sending = false));
    await until(async () => slow.requests.some((r) => r.body.includes(c.anonIds[0])));
    // The lease (1 s) runs out while the vendor takes 2.5 s; the other dispatcher keeps trying.
    while (sending) {
      await second.runOnce();
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await sent).toBe(1);
    expect(slow.requests.filter((r) => r.body.includes(c.anonIds[0]))).toHaveLength(1);
    expect((await rowsOf(ws))[0]).toMatchObject({ status: 'DELIVERED', attempts: 1 });
  });

  it('leases the row behind a finished head in the write that promotes it, and sends it unclaimed', async () => {
    const ws = await workspace();
    const p = randomUUID();
    const changes = [1, 2, 3].map(() => change('u-chain', p));
    await enqueue(ws, changes);
    const d = dispatcher({ batchSize: 1 });
    expect(await d.runOnce()).toBe(1);
    const afterFirst = await rowsOf(ws);
    expect(afterFirst.map((r) => [r.status, r.parked, r.claimedBy, r.attempts])).toEqual([
      ['DELIVERED', false, null, 1],
      ['PENDING', false, d.owner, 1],
      ['PENDING', true, null, 0],
    ]);
    collecting = [];
    expect(await d.runOnce()).toBe(1);
    const statements = collecting;
    collecting = null;
    expect(statements.filter((q) => /skip locked/i.test(q))).toEqual([]);
    expect(accepted(braze).filter((a) => changes.some((c) => c.anonIds[0] === a))).toEqual(
      changes.slice(0, 2).map((c) => c.anonIds[0]),
    );
    // Stopping gives back the row leased for the next batch: unclaimed, its attempt refunded.
    await d.stop();
    const [, second, third] = await rowsOf(ws);
    expect([second.status, third.status, third.parked, third.claimedBy, third.attempts]).toEqual([
      'DELIVERED',
      'PENDING',
      false,
      null,
      0,
    ]);
  });

  it('only promotes, without leasing, behind a head finished while its lane is paused', async () => {
    const ws = await workspace();
    const p = randomUUID();
    await enqueue(ws, [change('u-paused', p), change('u-paused', p)]);
    const repo = new QueueRepository(database.db);
    const lane = { workspaceId: ws, vendor: 'BRAZE' as const };
    const [head] = await repo.claim(lane, 'holder', 10, 60_000, new Date());
    await repo.pause(lane, new Date(Date.now() + 60_000), 'test');
    const outcome = {
      id: head.id,
      profileId: p,
      status: 'DELIVERED' as const,
      nextAttemptAt: null,
      lastError: null,
      refundAttempt: false,
    };
    const lease = { owner: 'holder', until: new Date(Date.now() + 60_000) };
    expect(await repo.finish(lane, 'holder', [outcome], new Date(), lease)).toEqual([]);
    const [, next] = await rowsOf(ws);
    expect([next.status, next.parked, next.claimedBy, next.attempts]).toEqual([
      'PENDING',
      false,
      null,
      0,
    ]);
  });

  it('claims and finishes a batch in a fixed number of statements, whatever its size', async () => {
    const small = await workspace();
    const large = await workspace();
    const d = dispatcher({ batchSize: 500 });
    const statementsFor = async (ws: string, profiles: number) => {
      await until(
        async () => (await d.runOnce()) === 0,
        async () => {},
      );
      await seedBacklog(database.db, {
        workspaceId: ws,
        profiles,
        perProfile: 1,
        vendors: ['BRAZE'],
      });
      collecting = [];
      const n = await d.runOnce();
      const statements = collecting.length;
      collecting = null;
      return { n, statements };
    };
    const a = await statementsFor(small, 10);
    const b = await statementsFor(large, 300);
    expect([a.n, b.n]).toEqual([10, 300]);
    expect(b.statements).toBe(a.statements);
  });

  it('deletes finished rows after their retention period, in batches, and nothing else', async () => {
    const ws = await workspace();
    const day = 24 * 60 * 60 * 1000;
    const ago = (days: number) => new Date(Date.now() - days * day);
    const cases = [
      ['DELIVERED', 8, false],
      ['DELIVERED', 8, false],
      ['SKIPPED', 8, false],
      ['DELIVERED', 6, true],
      ['DEAD', 8, true],
      ['DEAD', 31, false],
      ['PENDING', 40, true],
      ['RETRYING', 40, true],
    ] as const;
    const inserted = await database.db
      .insert(outboxMessages)
      .values(
        cases.map(([status, days], i) => ({
          workspaceId: ws,
          vendor: 'BRAZE' as const,
          type: 'identity.identified.v1',
          changeId: randomUUID(),
          profileId: randomUUID(),
          payload: change('u-ret', randomUUID()) as never,
          dedupeKey: `ret-${i}-${randomUUID()}`,
          status,
          createdAt: ago(days),
          updatedAt: ago(days),
          nextAttemptAt: new Date(Date.now() + day),
        })),
      )
      .returning({ id: outboxMessages.id });
    const removed: number[] = [];
    const d = new Dispatcher(
      database.db,
      pino({ level: 'silent' }),
      { ...DEFAULT_DISPATCHER_OPTIONS, retentionBatchSize: 2 },
      { observer: { removed: (n) => removed.push(n) } },
    );
    expect(await d.retain()).toBe(4);
    const left = await database.db
      .select({ id: outboxMessages.id })
      .from(outboxMessages)
      .where(
        and(
          eq(outboxMessages.workspaceId, ws),
          inArray(
            outboxMessages.id,
            inserted.map((r) => r.id),
          ),
        ),
      )
      .orderBy(outboxMessages.id);
    const kept = cases.flatMap(([, , keep], i) => (keep ? [inserted[i].id] : []));
    expect(left.map((r) => r.id)).toEqual(kept);
    expect(removed).toEqual([4]);
  });
});
