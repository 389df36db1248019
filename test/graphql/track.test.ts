import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  anAlias,
  anAnonId,
  anEvent,
  anExternalId,
  aPurchase,
  aSession,
} from '../helpers/builders.js';
import { codes, startTestGateway, type TestGateway } from '../helpers/gateway.js';

let gw: TestGateway;
let key: string;
beforeAll(async () => {
  gw = await startTestGateway();
  ({ key } = await gw.newWorkspace());
});
afterAll(async () => {
  await gw?.close();
});

const TRACK = `mutation ($input: TrackUsersInput!) {
  trackUsers(input: $input) {
    attributesProcessed eventsProcessed purchasesProcessed sessionsProcessed pushTokensProcessed message
  }
}`;
const FULL = `query ($by: ProfileLookup!) {
  profile(by: $by) {
    id externalId identified email firstName lastName customAttributes sessionCount
    firstSessionAt lastSessionAt anonIds aliases { aliasLabel aliasName }
    events { name count firstAt lastAt dailyCounts { day count } }
    purchases { count totalCents firstAt lastAt }
    pushTokens { appId token platform }
    apps { appId sessionCount totalSeconds }
  }
}`;
const ALIASES = `mutation ($input: CreateAliasesInput!) {
  createAliases(input: $input) { aliasesProcessed message aliases { aliasLabel aliasName profile { id externalId } } }
}`;

describe('trackUsers', () => {
  it('creates an anonymous profile for an unknown anon id and records everything sent', async () => {
    const anonId = anAnonId();
    const res = await gw.gql(key, TRACK, {
      input: {
        attributes: [
          {
            anonId,
            firstName: 'Ada',
            email: ' Ada@Example.COM ',
            customAttributes: { plan: 'pro' },
          },
        ],
        events: [
          { anonId, ...anEvent({ name: 'signup' }) },
          { anonId, ...anEvent({ name: 'signup' }) },
        ],
        purchases: [{ anonId, ...aPurchase({ priceCents: 500, quantity: 2 }) }],
        sessions: [{ anonId, ...aSession() }],
        pushTokens: [{ anonId, appId: 'ios', token: 'tok-1', platform: 'ios' }],
      },
    });
    expect(res.errors).toBeUndefined();
    expect(res.data?.trackUsers).toEqual({
      attributesProcessed: 1,
      eventsProcessed: 2,
      purchasesProcessed: 1,
      sessionsProcessed: 1,
      pushTokensProcessed: 1,
      message: 'success',
    });
    const { data } = await gw.gql(key, FULL, { by: { anonId } });
    const p = data!.profile;
    expect(p).toMatchObject({
      externalId: null,
      identified: false,
      email: 'ada@example.com',
      firstName: 'Ada',
      customAttributes: { plan: 'pro' },
      sessionCount: 1,
      anonIds: [anonId],
      aliases: [{ aliasLabel: 'anon_id', aliasName: anonId }],
      purchases: { count: 2, totalCents: 1000 },
      pushTokens: [{ appId: 'ios', token: 'tok-1', platform: 'ios' }],
      apps: [{ appId: 'ios', sessionCount: 1, totalSeconds: 120 }],
    });
    expect(p.events).toHaveLength(1);
    expect(p.events[0]).toMatchObject({ name: 'signup', count: 2 });
    expect(p.events[0].dailyCounts).toEqual([
      { day: new Date(Date.now() - 60_000).toISOString().slice(0, 10), count: 2 },
    ]);
  });

  it('creates an identified profile for an unknown external id and an alias-only one for an alias', async () => {
    const externalId = anExternalId();
    const alias = anAlias();
    await gw.gql(key, TRACK, {
      input: {
        events: [
          { externalId, ...anEvent() },
          { userAlias: alias, ...anEvent() },
        ],
      },
    });
    const identified = await gw.gql(key, FULL, { by: { externalId } });
    expect(identified.data?.profile).toMatchObject({ externalId, identified: true, aliases: [] });
    const aliasOnly = await gw.gql(key, FULL, { by: { alias } });
    expect(aliasOnly.data?.profile).toMatchObject({
      externalId: null,
      identified: false,
      aliases: [alias],
    });
  });

  it('adds to existing users and keeps first and last times', async () => {
    const externalId = anExternalId();
    const early = '2026-01-01T00:00:00.000Z';
    const late = new Date(Date.now() - 1000).toISOString();
    await gw.gql(key, TRACK, { input: { events: [{ externalId, ...anEvent({ time: late }) }] } });
    await gw.gql(key, TRACK, { input: { events: [{ externalId, ...anEvent({ time: early }) }] } });
    const { data } = await gw.gql(key, FULL, { by: { externalId } });
    expect(data?.profile.events[0]).toMatchObject({ count: 2, firstAt: early, lastAt: late });
    // the old event is outside the 30-day window of daily counts
    expect(data?.profile.events[0].dailyCounts).toEqual([{ day: late.slice(0, 10), count: 1 }]);
  });

  it('keeps times to the millisecond, through tracking and through a merge that rewrites them', async () => {
    const externalId = anExternalId();
    const anonId = anAnonId();
    const oldest = '1971-01-01T00:00:00.001Z';
    const recent = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000 + 999).toISOString();
    const merged = '1999-12-31T23:59:59.999Z';
    const session = { startedAt: '2001-02-03T04:05:06.007Z', endedAt: '2001-02-03T04:07:06.993Z' };
    await gw.gql(key, TRACK, {
      input: {
        events: [{ externalId, ...anEvent({ name: 'signup', time: recent }) }],
        purchases: [{ externalId, ...aPurchase({ time: oldest }) }],
      },
    });
    await gw.gql(key, TRACK, {
      input: {
        events: [{ anonId, ...anEvent({ name: 'signup', time: merged }) }],
        sessions: [{ anonId, ...aSession(session) }],
      },
    });
    const anon = (await gw.gql(key, FULL, { by: { anonId } })).data!.profile;
    expect(anon.firstSessionAt).toBe(session.startedAt);
    const identify = await gw.gql(
      key,
      `mutation ($input: IdentifyUsersInput!) { identifyUsers(input: $input) { results { outcome } } }`,
      {
        input: {
          aliasesToIdentify: [
            { externalId, userAlias: { aliasLabel: 'anon_id', aliasName: anonId } },
          ],
          mergeBehavior: 'MERGE',
        },
      },
    );
    expect(identify.data?.identifyUsers.results).toEqual([{ outcome: 'MERGED' }]);
    const { data } = await gw.gql(key, FULL, { by: { externalId } });
    expect(data?.profile.events).toMatchObject([
      { name: 'signup', count: 2, firstAt: merged, lastAt: recent },
    ]);
    expect(data?.profile.purchases).toMatchObject({ firstAt: oldest, lastAt: oldest });
    expect(data?.profile).toMatchObject({
      firstSessionAt: anon.firstSessionAt,
      lastSessionAt: anon.lastSessionAt,
    });
  });

  it('leaves absent attributes alone, clears null ones and removes custom keys set to null', async () => {
    const externalId = anExternalId();
    await gw.gql(key, TRACK, {
      input: {
        attributes: [
          { externalId, firstName: 'A', lastName: 'B', customAttributes: { a: 1, b: 2 } },
        ],
      },
    });
    await gw.gql(key, TRACK, {
      input: {
        attributes: [{ externalId, lastName: null, customAttributes: { a: null, c: [1, 2] } }],
      },
    });
    const { data } = await gw.gql(key, FULL, { by: { externalId } });
    expect(data?.profile).toMatchObject({
      firstName: 'A',
      lastName: null,
      customAttributes: { b: 2, c: [1, 2] },
    });
  });

  it.each([
    [
      'a placeholder external id',
      { events: [{ externalId: 'undefined', ...anEvent() }] },
      'input.events[0].externalId',
    ],
    [
      'a quoted placeholder',
      { events: [{ externalId: '"null"', ...anEvent() }] },
      'input.events[0].externalId',
    ],
    [
      'a blank external id',
      { events: [{ externalId: '   ', ...anEvent() }] },
      'input.events[0].externalId',
    ],
    [
      'an anon id that is not a UUID v4',
      { events: [{ anonId: 'guest-42', ...anEvent() }] },
      'input.events[0].anonId',
    ],
    [
      'a UUID v1 as anon id',
      { events: [{ anonId: 'c232ab00-9414-11ec-b3c8-9f6bdeced846', ...anEvent() }] },
      'input.events[0].anonId',
    ],
    [
      'two identifiers for one user',
      { events: [{ externalId: 'u', anonId: anAnonId(), ...anEvent() }] },
      'input.events[0]',
    ],
    ['no identifier', { events: [anEvent()] }, 'input.events[0]'],
    [
      'an event from the future',
      { events: [{ externalId: 'u', ...anEvent({ time: '2999-01-01T00:00:00Z' }) }] },
      'input.events[0].time',
    ],
    [
      'a blank event name',
      { events: [{ externalId: 'u', ...anEvent({ name: ' ' }) }] },
      'input.events[0].name',
    ],
    [
      'a NUL character',
      { events: [{ externalId: 'u\u0000x', ...anEvent() }] },
      'input.events[0].externalId',
    ],
    [
      'a malformed email',
      { attributes: [{ externalId: 'u', email: 'nope' }] },
      'input.attributes[0].email',
    ],
    [
      'a negative price',
      { purchases: [{ externalId: 'u', ...aPurchase({ priceCents: -1 }) }] },
      'input.purchases[0].priceCents',
    ],
    [
      'a session that ends before it starts',
      { sessions: [{ externalId: 'u', ...aSession({ endedAt: '2020-01-01T00:00:00Z' }) }] },
      'input.sessions[0].endedAt',
    ],
    [
      '76 events',
      { events: Array.from({ length: 76 }, () => ({ externalId: 'u', ...anEvent() })) },
      'input.events',
    ],
  ])('refuses %s with BAD_USER_INPUT and writes nothing', async (_name, input, path) => {
    const { key: fresh } = await gw.newWorkspace();
    // a valid item in the same request must not be written either
    const valid = { externalId: anExternalId(), ...anEvent() };
    const withValid = {
      ...input,
      events: [...((input as { events?: unknown[] }).events ?? []), valid],
    };
    const res = await gw.gql(fresh, TRACK, { input: withValid });
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.errors?.[0]?.extensions?.['problems']).toEqual(
      expect.arrayContaining([expect.objectContaining({ path })]),
    );
    const count = await gw.gql(fresh, `{ profiles { totalCount } aliases { totalCount } }`);
    expect(count.data).toEqual({ profiles: { totalCount: 0 }, aliases: { totalCount: 0 } });
  });

  it('accepts an anon id with the $device: prefix and upper-case hex, stored as sent', async () => {
    const anonId = `$device:${anAnonId().toUpperCase()}`;
    const res = await gw.gql(key, TRACK, { input: { events: [{ anonId, ...anEvent() }] } });
    expect(res.errors).toBeUndefined();
    const { data } = await gw.gql(key, FULL, { by: { anonId } });
    expect(data?.profile.anonIds).toEqual([anonId]);
  });

  it('refuses a malformed date-time with BAD_USER_INPUT', async () => {
    const res = await gw.gql(key, TRACK, {
      input: { events: [{ externalId: 'u', name: 'x', time: 'yesterday' }] },
    });
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
  });
});

describe('createAliases', () => {
  it('creates an alias-only profile for an alias without external id', async () => {
    const alias = anAlias();
    const res = await gw.gql(key, ALIASES, { input: { userAliases: [alias] } });
    expect(res.data?.createAliases).toMatchObject({
      aliasesProcessed: 1,
      message: 'success',
      aliases: [{ ...alias, profile: { externalId: null } }],
    });
  });

  it('adds an alias to the profile that holds the external id', async () => {
    const externalId = anExternalId();
    await gw.gql(key, TRACK, { input: { events: [{ externalId, ...anEvent() }] } });
    const alias = anAlias();
    const res = await gw.gql(key, ALIASES, { input: { userAliases: [{ ...alias, externalId }] } });
    expect(res.data?.createAliases.aliases).toEqual([
      { ...alias, profile: expect.objectContaining({ externalId }) },
    ]);
    const { data } = await gw.gql(key, FULL, { by: { alias } });
    expect(data?.profile.externalId).toBe(externalId);
  });

  it('changes nothing when an alias is sent again for the same profile', async () => {
    const externalId = anExternalId();
    const alias = anAlias();
    const first = await gw.gql(key, ALIASES, {
      input: { userAliases: [{ ...alias, externalId }] },
    });
    const again = await gw.gql(key, ALIASES, {
      input: { userAliases: [{ ...alias, externalId }] },
    });
    expect(again.data).toEqual(first.data);
    const aliasOnlyAgain = await gw.gql(key, ALIASES, { input: { userAliases: [alias] } });
    expect(aliasOnlyAgain.data?.createAliases.aliases[0].profile.externalId).toBe(externalId);
  });

  it('answers CONFLICT when the alias belongs to another profile, and writes nothing', async () => {
    const alias = anAlias();
    await gw.gql(key, ALIASES, { input: { userAliases: [alias] } });
    const other = anExternalId();
    const extra = anAlias();
    const res = await gw.gql(key, ALIASES, {
      input: {
        userAliases: [
          { ...extra, externalId: other },
          { ...alias, externalId: other },
        ],
      },
    });
    expect(codes(res)).toEqual(['CONFLICT']);
    expect((await gw.gql(key, FULL, { by: { alias: extra } })).data?.profile).toBeNull();
    expect((await gw.gql(key, FULL, { by: { externalId: other } })).data?.profile).toBeNull();
  });

  it('refuses placeholders, blank labels, a non-UUID under the anon-id label and more than 50', async () => {
    const cases = [
      [{ aliasLabel: 'x', aliasName: 'anonymous' }],
      [{ aliasLabel: ' ', aliasName: 'ok-name' }],
      [{ aliasLabel: 'anon_id', aliasName: 'not-a-uuid' }],
      [{ aliasLabel: 'x', aliasName: 'ok', externalId: 'null' }],
      Array.from({ length: 51 }, () => anAlias()),
      [],
    ];
    for (const userAliases of cases) {
      const res = await gw.gql(key, ALIASES, { input: { userAliases } });
      expect(codes(res), JSON.stringify(userAliases).slice(0, 80)).toEqual(['BAD_USER_INPUT']);
    }
  });

  it('refuses an alias that would take a profile over MAX_IDS_PER_PROFILE', async () => {
    const small = await startTestGateway({ MAX_IDS_PER_PROFILE: '3' });
    try {
      const { key: k } = await small.newWorkspace();
      const externalId = anExternalId();
      const ok = await small.gql(k, ALIASES, {
        input: { userAliases: [anAlias(), anAlias()].map((a) => ({ ...a, externalId })) },
      });
      expect(ok.errors).toBeUndefined();
      const over = await small.gql(k, ALIASES, {
        input: { userAliases: [{ ...anAlias(), externalId }] },
      });
      expect(codes(over)).toEqual(['BAD_USER_INPUT']);
      const { data } = await small.gql(k, FULL, { by: { externalId } });
      expect(data?.profile.aliases).toHaveLength(2);
    } finally {
      await small.close();
    }
  });
});
