import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Database } from '../../src/db/client.js';
import { rowsOf } from '../../src/db/rows.js';
import { createServices } from '../../src/gateway.js';
import type { Services } from '../../src/http/context.js';
import { anAnonId, anExternalId } from '../helpers/builders.js';
import { testConfig } from '../helpers/config.js';
import { openTestDatabase } from '../helpers/database.js';

let database: Database;
let services: Services;
const queries: string[] = [];
beforeAll(async () => {
  database = await openTestDatabase({ onQuery: (q) => queries.push(q), poolSize: 30 });
  services = createServices(database, testConfig());
});
afterAll(async () => {
  await database?.close();
});

async function newScope() {
  const { workspace } = await services.auth.createWorkspace({ name: anExternalId('ws') });
  return { workspaceId: workspace.id, anonIdLabel: workspace.anonIdLabel };
}
type Scope = Awaited<ReturnType<typeof newScope>>;

const ago = (ms: number) => new Date(Date.now() - ms);

async function anonymousWithSessions(scope: Scope, sessions: number): Promise<string> {
  const anonId = anAnonId();
  await services.track.track(scope, {
    sessions: Array.from({ length: sessions }, (_, i) => ({ anonId, startedAt: ago(10_000 + i) })),
  });
  return anonId;
}

describe('identifyUsers under concurrency', () => {
  it('gives exactly one IDENTIFIED when 50 calls race to identify one anonymous profile', async () => {
    const scope = await newScope();
    const anonId = await anonymousWithSessions(scope, 1);
    const externalIds = Array.from({ length: 50 }, () => anExternalId());
    const payloads = await Promise.all(
      externalIds.map((externalId) =>
        services.identity.identify(scope, { anonIdsToIdentify: [{ externalId, anonId }] }),
      ),
    );
    const outcomes = payloads.map((p) => p.results[0]);
    const winners = outcomes.filter((r) => r.outcome === 'IDENTIFIED');
    expect(winners).toHaveLength(1);
    expect(outcomes.filter((r) => r.outcome === 'REJECTED')).toHaveLength(49);
    expect(new Set(outcomes.filter((r) => r.outcome === 'REJECTED').map((r) => r.reason))).toEqual(
      new Set(['identified_by_other_external_id']),
    );
    const profile = await services.profiles.findProfile(scope, { anonId });
    expect(profile?.externalId).toBe(winners[0].externalId);
    const identified = await services.profiles.listProfiles(
      scope,
      { identified: true },
      { first: 100 },
    );
    expect(identified.edges).toHaveLength(1);
  });

  it('conserves the session count when 20 anonymous profiles merge into one at once', async () => {
    const scope = await newScope();
    const externalId = anExternalId();
    await services.track.track(scope, { sessions: [{ externalId, startedAt: ago(50_000) }] });
    const anonIds = await Promise.all(
      Array.from({ length: 20 }, (_, i) => anonymousWithSessions(scope, 1 + (i % 3))),
    );
    const expected = 1 + anonIds.reduce((sum, _, i) => sum + 1 + (i % 3), 0);
    const payloads = await Promise.all(
      anonIds.map((anonId) =>
        services.identity.identify(scope, { anonIdsToIdentify: [{ externalId, anonId }] }),
      ),
    );
    expect(payloads.map((p) => p.results[0].outcome)).toEqual(Array(20).fill('MERGED'));
    const survivor = await services.profiles.findProfile(scope, { externalId });
    expect(survivor?.sessionCount).toBe(expected);
    for (const anonId of anonIds) {
      expect((await services.profiles.findProfile(scope, { anonId }))?.id).toBe(survivor?.id);
    }
    expect((await services.profiles.listProfiles(scope, {}, { first: 100 })).edges).toHaveLength(1);
  });

  it('never deadlocks when batches name the same identifiers in opposite orders', async () => {
    const scope = await newScope();
    const pairs = await Promise.all(
      Array.from({ length: 6 }, async () => ({
        externalId: anExternalId(),
        anonId: await anonymousWithSessions(scope, 1),
      })),
    );
    await services.track.track(scope, {
      sessions: pairs.map((p) => ({ externalId: p.externalId, startedAt: ago(1000) })),
    });
    const forward = { anonIdsToIdentify: pairs };
    const backward = { anonIdsToIdentify: [...pairs].reverse() };
    const payloads = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        services.identity.identify(scope, i % 2 ? forward : backward),
      ),
    );
    const merged = payloads.flatMap((p) => p.results).filter((r) => r.outcome === 'MERGED');
    expect(merged).toHaveLength(pairs.length);
    for (const p of pairs) {
      const survivor = await services.profiles.findProfile(scope, { anonId: p.anonId });
      expect(survivor).toMatchObject({ externalId: p.externalId, sessionCount: 2 });
    }
  });

  it('loses no tracked event while the tracked profile is being merged', async () => {
    const scope = await newScope();
    const externalId = anExternalId();
    await services.track.track(scope, { events: [{ externalId, name: 'e', time: ago(1000) }] });
    const anonId = anAnonId();
    await services.track.track(scope, { events: [{ anonId, name: 'e', time: ago(1000) }] });
    const tracks = Array.from({ length: 20 }, () =>
      services.track.track(scope, { events: [{ anonId, name: 'e', time: ago(500) }] }),
    );
    const identify = services.identity.identify(scope, {
      anonIdsToIdentify: [{ externalId, anonId }],
    });
    await Promise.all([...tracks, identify]);
    const survivor = await services.profiles.findProfile(scope, { externalId });
    const events = await services.profiles
      .createLoaders(scope.workspaceId)
      .events.load(survivor!.id);
    expect(events.map((e) => e.count)).toEqual([22]);
  });
});

describe('identifyUsers cost', () => {
  it('uses the same number of statements for 50 identifiers as for 1', async () => {
    const scope = await newScope();
    const make = async (n: number) => {
      const items = await Promise.all(
        Array.from({ length: n }, async () => ({
          externalId: anExternalId(),
          anonId: await anonymousWithSessions(scope, 1),
        })),
      );
      await services.track.track(scope, {
        sessions: items.map((i) => ({ externalId: i.externalId, startedAt: ago(1000) })),
      });
      return items;
    };
    const one = await make(1);
    const fifty = await make(50);
    queries.length = 0;
    await services.identity.identify(scope, { anonIdsToIdentify: one });
    const forOne = queries.length;
    queries.length = 0;
    const payload = await services.identity.identify(scope, { anonIdsToIdentify: fifty });
    const forFifty = queries.length;
    expect(payload.results.every((r) => r.outcome === 'MERGED')).toBe(true);
    expect(forFifty).toBe(forOne);
    expect(forFifty).toBeLessThan(30);
  });

  it('merges the daily counts of an event both profiles hold, day by day, writing only the days that change', async () => {
    const scope = await newScope();
    const externalId = anExternalId();
    const anonId = anAnonId();
    const DAY = 86_400_000;
    // Yesterday noon (UTC) and whole days before it: no time falls near a day's edge.
    const noon = Math.floor(Date.now() / DAY) * DAY - DAY / 2;
    const at = (days: number, ms = 0) => new Date(noon - days * DAY - ms);
    const dayOf = (days: number) => at(days).toISOString().slice(0, 10);
    await services.track.track(scope, {
      events: [0, 1, 2].map((d) => ({ externalId, name: 'shared', time: at(d) })),
    });
    // The absorbed profile shares one day (1) and has one of its own (3).
    await services.track.track(scope, {
      events: [1, 3].map((d) => ({ anonId, name: 'shared', time: at(d, 1000) })),
    });
    const survivor = (await services.profiles.findProfile(scope, { externalId }))!;
    const days = async () =>
      rowsOf<{ day: string; count: number; xmin: string }>(
        await database.db.execute(sql`
          select to_char(day, 'YYYY-MM-DD') as day, count, xmin::text from event_daily_counts
          where workspace_id = ${scope.workspaceId} and profile_id = ${survivor.id} order by day`),
      );
    const before = await days();
    expect(before.map((d) => d.day)).toEqual([dayOf(2), dayOf(1), dayOf(0)]);
    const payload = await services.identity.identify(scope, {
      anonIdsToIdentify: [{ externalId, anonId }],
    });
    expect(payload.results[0].outcome).toBe('MERGED');
    const after = await days();
    expect(after.map((d) => [d.day, Number(d.count)])).toEqual([
      [dayOf(3), 1],
      [dayOf(2), 1],
      [dayOf(1), 2],
      [dayOf(0), 1],
    ]);
    // The days the absorbed profile did not have are left as they were.
    const untouched = (list: typeof before) =>
      list.filter((d) => [dayOf(2), dayOf(0)].includes(d.day)).map((d) => d.xmin);
    expect(untouched(after)).toEqual(untouched(before));
  });

  it("writes back only the rows a merge changed: the survivor's other rows keep their versions", async () => {
    const scope = await newScope();
    const externalId = anExternalId();
    const anonId = anAnonId();
    await services.track.track(scope, {
      events: [{ externalId, name: 'kept', time: ago(1000) }],
      pushTokens: [{ externalId, appId: 'ios', token: anExternalId('tok') }],
    });
    await services.track.track(scope, { events: [{ anonId, name: 'moved', time: ago(1000) }] });
    const survivor = await services.profiles.findProfile(scope, { externalId });
    // A row version (xmin) changes whenever the row is written, even with the same values.
    const versions = async () =>
      rowsOf<{ row: string; xmin: string }>(
        await database.db.execute(sql`
          select 'event ' || name as row, xmin::text from event_summaries
            where workspace_id = ${scope.workspaceId} and profile_id = ${survivor!.id}
          union all select 'day ' || name, xmin::text from event_daily_counts
            where workspace_id = ${scope.workspaceId} and profile_id = ${survivor!.id}
          union all select 'token ' || app_id, xmin::text from push_tokens
            where workspace_id = ${scope.workspaceId} and profile_id = ${survivor!.id}
          order by 1`),
      );
    const before = await versions();
    const payload = await services.identity.identify(scope, {
      anonIdsToIdentify: [{ externalId, anonId }],
    });
    expect(payload.results[0].outcome).toBe('MERGED');
    const after = await versions();
    expect(after.map((r) => r.row)).toEqual([
      'day kept',
      'day moved',
      'event kept',
      'event moved',
      'token ios',
    ]);
    const untouched = ['day kept', 'event kept', 'token ios'];
    expect(after.filter((r) => untouched.includes(r.row))).toEqual(
      before.filter((r) => untouched.includes(r.row)),
    );
  });
});
