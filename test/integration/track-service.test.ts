import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Database } from '../../src/db/client.js';
import { TrackRepository } from '../../src/identity/store/track-repository.js';
import { createServices } from '../../src/gateway.js';
import type { Services } from '../../src/http/context.js';
import { anAnonId, anExternalId } from '../helpers/builders.js';
import { testConfig } from '../helpers/config.js';
import { openTestDatabase } from '../helpers/database.js';
import { explainAnalyze, rowsRead } from '../helpers/plans.js';

let database: Database;
let services: Services;
beforeAll(async () => {
  database = await openTestDatabase();
  services = createServices(database, testConfig());
});
afterAll(async () => {
  await database?.close();
});

async function newScope() {
  const { workspace } = await services.auth.createWorkspace({ name: anExternalId('ws') });
  return { workspaceId: workspace.id, anonIdLabel: workspace.anonIdLabel };
}

const event = (ref: Record<string, unknown>, name = 'e') => ({
  ...ref,
  name,
  time: new Date(Date.now() - 1000),
});

describe('TrackService under concurrency', () => {
  it('creates one profile when 20 requests track the same new anon id at once, and counts every event', async () => {
    const scope = await newScope();
    const anonId = anAnonId();
    await Promise.all(
      Array.from({ length: 20 }, () =>
        services.track.track(scope, { events: [event({ anonId }), event({ anonId })] }),
      ),
    );
    const page = await services.profiles.listProfiles(scope, {}, { first: 100 });
    expect(page.edges).toHaveLength(1);
    const profile = await services.profiles.findProfile(scope, { anonId });
    const loaders = services.profiles.createLoaders(scope.workspaceId);
    const [events] = await Promise.all([loaders.events.load(profile!.id)]);
    expect(events.map((e) => e.count)).toEqual([40]);
  });

  it('creates one identified profile when requests race on a new external id', async () => {
    const scope = await newScope();
    const externalId = anExternalId();
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        services.track.track(scope, {
          events: [event({ externalId }, `e${i % 2}`)],
          sessions: [{ externalId, appId: 'web', startedAt: new Date(Date.now() - 5000) }],
        }),
      ),
    );
    const page = await services.profiles.listProfiles(scope, { identified: true }, { first: 10 });
    expect(page.edges.map((e) => e.node.externalId)).toEqual([externalId]);
    expect(page.edges[0].node.sessionCount).toBe(10);
    const events = await services.profiles
      .createLoaders(scope.workspaceId)
      .events.load(page.edges[0].node.id);
    expect(events.map((e) => [e.name, e.count])).toEqual([
      ['e0', 5],
      ['e1', 5],
    ]);
  });

  it('never deadlocks when requests name the same users and tokens in opposite orders', async () => {
    const scope = await newScope();
    const [a, b] = [anExternalId(), anExternalId()];
    const ab = [a, b];
    const tokens = (ids: string[]) =>
      ids.map((externalId, i) => ({ externalId, appId: 'web', token: `t${i}` }));
    await Promise.all(
      Array.from({ length: 12 }, (_, i) => {
        const order = i % 2 === 0 ? ab : [...ab].reverse();
        return services.track.track(scope, {
          events: order.map((externalId) => event({ externalId })),
          pushTokens: tokens([...order].reverse()),
        });
      }),
    );
    const loaders = services.profiles.createLoaders(scope.workspaceId);
    for (const externalId of ab) {
      const p = await services.profiles.findProfile(scope, { externalId });
      expect((await loaders.events.load(p!.id)).map((e) => e.count)).toEqual([12]);
    }
  });

  it('moves a push token to the last profile that registers it', async () => {
    const scope = await newScope();
    const [a, b] = [anExternalId(), anExternalId()];
    await services.track.track(scope, {
      pushTokens: [{ externalId: a, appId: 'ios', token: 't', platform: 'ios' }],
    });
    await services.track.track(scope, {
      pushTokens: [{ externalId: b, appId: 'ios', token: 't' }],
    });
    const loaders = services.profiles.createLoaders(scope.workspaceId);
    const pa = await services.profiles.findProfile(scope, { externalId: a });
    const pb = await services.profiles.findProfile(scope, { externalId: b });
    expect(await loaders.pushTokens.load(pa!.id)).toEqual([]);
    expect((await loaders.pushTokens.load(pb!.id)).map((t) => [t.token, t.platform])).toEqual([
      ['t', 'ios'],
    ]);
  });
});

describe('TrackService touches', () => {
  it('the profiles it writes to, found by any identifier, and no other', async () => {
    const scope = await newScope();
    const [a, b, c] = [anExternalId(), anExternalId(), anExternalId()];
    const anonId = anAnonId();
    await services.track.track(scope, {
      events: [event({ externalId: a }), event({ externalId: b }), event({ externalId: c })],
    });
    await services.aliases.createAliases(scope, [
      { externalId: b, aliasLabel: 'crm', aliasName: `crm-${b}` },
    ]);
    await services.track.track(scope, { events: [event({ anonId })] });
    const updatedAt = async () =>
      Promise.all(
        [{ externalId: a }, { externalId: b }, { externalId: c }, { anonId }].map(async (by) =>
          (await services.profiles.findProfile(scope, by))!.updatedAt.getTime(),
        ),
      );
    const before = await updatedAt();
    await new Promise((r) => setTimeout(r, 20));
    const started = Date.now();
    await services.track.track(scope, {
      events: [
        event({ externalId: a }),
        event({ userAlias: { aliasLabel: 'crm', aliasName: `crm-${b}` } }),
        event({ anonId }),
      ],
    });
    const after = await updatedAt();
    for (const i of [0, 1, 3]) {
      expect(after[i]).toBeGreaterThanOrEqual(started);
      expect(after[i]).toBeGreaterThan(before[i]);
    }
    expect(after[2]).toBe(before[2]);
  });
});

describe('TrackService reads by index', () => {
  it("finds and locks a request's users by their keys, whatever the size of the workspace", async () => {
    const scope = await newScope();
    const users = Array.from({ length: 600 }, (_, i) => `big-${i}`);
    for (let i = 0; i < users.length; i += 75) {
      await services.track.track(scope, {
        events: users.slice(i, i + 75).map((externalId) => event({ externalId })),
      });
    }
    for (let i = 0; i < users.length; i += 50) {
      await services.aliases.createAliases(
        scope,
        users.slice(i, i + 50).map((externalId) => ({
          externalId,
          aliasLabel: 'crm',
          aliasName: `crm-${externalId}`,
        })),
      );
    }
    const externalIds = users.slice(100, 175);
    const pairs = users.slice(300, 310).map((u) => ({ aliasLabel: 'crm', aliasName: `crm-${u}` }));
    const query = new TrackRepository().lockHoldersQuery(scope.workspaceId, externalIds, pairs);
    // EXPLAIN ANALYZE runs the statement (and takes its locks): in a transaction rolled back.
    let read = -1;
    await database.db
      .transaction(async (tx) => {
        read = rowsRead(await explainAnalyze(tx, query));
        throw new Error('roll back');
      })
      .catch((error: Error) => expect(error.message).toBe('roll back'));
    // 85 holders, each read twice (found by its key, then locked): nowhere near the workspace's
    // 600 profiles and 600 aliases.
    expect(read).toBeGreaterThanOrEqual(2 * 85);
    expect(read).toBeLessThanOrEqual(2 * 85);
  });
});
