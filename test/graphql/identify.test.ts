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
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw?.close();
});

const TRACK = `mutation ($input: TrackUsersInput!) { trackUsers(input: $input) { message } }`;
const IDENTIFY = `mutation ($input: IdentifyUsersInput!) {
  identifyUsers(input: $input) {
    aliasesProcessed message dryRun
    results {
      index externalId outcome reason
      profile { id externalId anonIds sessionCount firstName customAttributes events { name count } purchases { count totalCents } }
      merge { id behavior absorbedProfileId externalId changedFields survivor { id } deliveries { id } }
      deliveries { id }
    }
  }
}`;
const PROFILE = `query ($by: ProfileLookup!) {
  profile(by: $by) { id externalId anonIds sessionCount firstName lastName events { name count } merges { id changedFields } }
}`;

async function anonymous(key: string, extra: Record<string, unknown> = {}) {
  const anonId = anAnonId();
  await gw.gql(key, TRACK, {
    input: {
      attributes: [{ anonId, firstName: 'Anon', customAttributes: { source: 'ad' }, ...extra }],
      events: [{ anonId, ...anEvent({ name: 'visit' }) }],
      sessions: [{ anonId, ...aSession() }],
      purchases: [{ anonId, ...aPurchase({ priceCents: 100 }) }],
    },
  });
  return anonId;
}

async function identified(key: string, externalId = anExternalId()) {
  await gw.gql(key, TRACK, {
    input: {
      attributes: [{ externalId, firstName: 'Known', lastName: 'User' }],
      events: [{ externalId, ...anEvent({ name: 'visit' }) }],
      sessions: [
        { externalId, ...aSession() },
        { externalId, ...aSession({ appId: 'web' }) },
      ],
    },
  });
  return externalId;
}

describe('identifyUsers outcomes', () => {
  it('IDENTIFIED: writes the external id onto the anonymous profile when nobody holds it', async () => {
    const { key } = await gw.newWorkspace();
    const anonId = await anonymous(key);
    const externalId = anExternalId();
    const res = await gw.gql(key, IDENTIFY, {
      input: { anonIdsToIdentify: [{ externalId, anonId }] },
    });
    expect(res.errors).toBeUndefined();
    expect(res.data?.identifyUsers).toMatchObject({
      aliasesProcessed: 1,
      message: 'success',
      dryRun: false,
    });
    const [result] = res.data!.identifyUsers.results;
    expect(result).toMatchObject({
      index: 0,
      externalId,
      outcome: 'IDENTIFIED',
      reason: null,
      merge: null,
      deliveries: [],
    });
    expect(result.profile).toMatchObject({ externalId, anonIds: [anonId], firstName: 'Anon' });
  });

  it('MERGED: folds the anonymous profile into the identified one, Braze field by field', async () => {
    const { key } = await gw.newWorkspace();
    const externalId = await identified(key);
    const anonId = await anonymous(key, { lastName: 'Ignored?' });
    const res = await gw.gql(key, IDENTIFY, {
      input: { anonIdsToIdentify: [{ externalId, anonId }] },
    });
    const [result] = res.data!.identifyUsers.results;
    expect(result.outcome).toBe('MERGED');
    expect(result.profile).toMatchObject({
      externalId,
      anonIds: [anonId],
      firstName: 'Known', // the survivor keeps its own value
      sessionCount: 3,
      customAttributes: { source: 'ad' }, // filled from the absorbed profile
      events: [{ name: 'visit', count: 2 }],
      purchases: { count: 1, totalCents: 100 },
    });
    expect(result.merge).toMatchObject({
      behavior: 'MERGE',
      externalId,
      survivor: { id: result.profile.id },
      deliveries: [],
    });
    expect(result.merge.changedFields).toEqual(
      expect.arrayContaining([
        'aliases',
        'customAttributes.source',
        'sessionCount',
        'events.visit',
        'purchases',
      ]),
    );
    expect(result.merge.changedFields).not.toContain('firstName');
    expect(result.merge.changedFields).not.toContain('lastName');
    // The absorbed profile's id now resolves to the survivor.
    const byOldId = await gw.gql(key, PROFILE, { by: { id: result.merge.absorbedProfileId } });
    expect(byOldId.data?.profile.id).toBe(result.profile.id);
    const survivor = await gw.gql(key, PROFILE, { by: { externalId } });
    expect(survivor.data?.profile.merges).toEqual([
      { id: result.merge.id, changedFields: result.merge.changedFields },
    ]);
  });

  it('NONE: moves only identifiers; attributes and events stay with the tombstone', async () => {
    const { key } = await gw.newWorkspace();
    const externalId = await identified(key);
    const anonId = await anonymous(key);
    const res = await gw.gql(key, IDENTIFY, {
      input: { mergeBehavior: 'NONE', anonIdsToIdentify: [{ externalId, anonId }] },
    });
    const [result] = res.data!.identifyUsers.results;
    expect(result.outcome).toBe('MERGED');
    expect(result.merge.behavior).toBe('NONE');
    expect(result.profile).toMatchObject({
      anonIds: [anonId],
      sessionCount: 2,
      customAttributes: {},
      events: [{ name: 'visit', count: 1 }],
      purchases: { count: 0, totalCents: 0 },
    });
  });

  it('UNCHANGED: a repeat of the same identification is a no-op', async () => {
    const { key } = await gw.newWorkspace();
    const anonId = await anonymous(key);
    const externalId = anExternalId();
    const input = { anonIdsToIdentify: [{ externalId, anonId }] };
    await gw.gql(key, IDENTIFY, { input });
    const again = await gw.gql(key, IDENTIFY, { input });
    expect(again.data?.identifyUsers.results[0]).toMatchObject({
      outcome: 'UNCHANGED',
      reason: null,
      merge: null,
    });
    expect(again.data?.identifyUsers.results[0].profile.externalId).toBe(externalId);
  });

  it('NOT_FOUND: nobody holds the alias, email or anon id', async () => {
    const { key } = await gw.newWorkspace();
    const res = await gw.gql(key, IDENTIFY, {
      input: {
        aliasesToIdentify: [{ externalId: 'u1', userAlias: anAlias() }],
        emailsToIdentify: [
          { externalId: 'u1', email: 'nobody@example.com', prioritization: ['UNIDENTIFIED'] },
        ],
        anonIdsToIdentify: [{ externalId: 'u1', anonId: anAnonId() }],
      },
    });
    expect(
      res.data?.identifyUsers.results.map((r: any) => [r.index, r.outcome, r.profile]),
    ).toEqual([
      [0, 'NOT_FOUND', null],
      [1, 'NOT_FOUND', null],
      [2, 'NOT_FOUND', null],
    ]);
    expect(res.data?.identifyUsers.aliasesProcessed).toBe(0);
  });

  it('AMBIGUOUS: email prioritization that cannot pick one profile merges nothing', async () => {
    const { key } = await gw.newWorkspace();
    const email = `${anExternalId()}@example.com`;
    await anonymous(key, { email });
    await anonymous(key, { email });
    const externalId = anExternalId();
    const res = await gw.gql(key, IDENTIFY, {
      input: { emailsToIdentify: [{ externalId, email, prioritization: ['UNIDENTIFIED'] }] },
    });
    expect(res.data?.identifyUsers.results[0]).toMatchObject({
      outcome: 'AMBIGUOUS',
      profile: null,
    });
    expect((await gw.gql(key, PROFILE, { by: { externalId } })).data?.profile).toBeNull();
  });

  it('picks by email with the next step breaking a tie', async () => {
    const { key } = await gw.newWorkspace();
    const email = `${anExternalId()}@example.com`;
    await anonymous(key, { email });
    const newest = await anonymous(key, { email: email.toUpperCase() });
    const externalId = anExternalId();
    const res = await gw.gql(key, IDENTIFY, {
      input: {
        emailsToIdentify: [
          { externalId, email, prioritization: ['UNIDENTIFIED', 'MOST_RECENTLY_UPDATED'] },
        ],
      },
    });
    expect(res.data?.identifyUsers.results[0]).toMatchObject({ outcome: 'IDENTIFIED' });
    expect(res.data?.identifyUsers.results[0].profile.anonIds).toEqual([newest]);
  });

  it.each([
    [
      'identified_by_other_external_id',
      async (key: string) => {
        const anonId = await anonymous(key);
        await gw.gql(key, IDENTIFY, {
          input: { anonIdsToIdentify: [{ externalId: anExternalId(), anonId }] },
        });
        return { anonIdsToIdentify: [{ externalId: anExternalId(), anonId }] };
      },
    ],
    [
      'anon_id_not_uuid_v4',
      async () => ({ anonIdsToIdentify: [{ externalId: 'u1', anonId: 'guest-42' }] }),
    ],
    [
      'anon_id_equals_external_id',
      async () => {
        const id = anAnonId();
        return { anonIdsToIdentify: [{ externalId: id, anonId: id }] };
      },
    ],
    [
      'invalid_external_id',
      async () => ({ anonIdsToIdentify: [{ externalId: 'undefined', anonId: anAnonId() }] }),
    ],
    [
      'invalid_identifier',
      async () => ({
        aliasesToIdentify: [
          { externalId: 'u1', userAlias: { aliasLabel: 'crm', aliasName: 'null' } },
        ],
      }),
    ],
  ])('REJECTED with reason %s, and nothing changes', async (reason, build) => {
    const { key } = await gw.newWorkspace();
    const input = await build(key);
    const before = await gw.gql(
      key,
      `{ profiles { totalCount edges { node { id externalId anonIds } } } }`,
    );
    const res = await gw.gql(key, IDENTIFY, { input });
    const results = res.data!.identifyUsers.results;
    expect(results.at(-1)).toMatchObject({ outcome: 'REJECTED', reason, merge: null });
    const after = await gw.gql(
      key,
      `{ profiles { totalCount edges { node { id externalId anonIds } } } }`,
    );
    expect(after.data).toEqual(before.data);
  });

  it('REJECTED too_many_identifiers when a merge would exceed MAX_IDS_PER_PROFILE', async () => {
    const small = await startTestGateway({ MAX_IDS_PER_PROFILE: '2' });
    try {
      const { key } = await small.newWorkspace();
      const externalId = anExternalId();
      const [a, b] = [anAnonId(), anAnonId()];
      await small.gql(key, TRACK, {
        input: {
          events: [
            { externalId, ...anEvent() },
            { anonId: a, ...anEvent() },
            { anonId: b, ...anEvent() },
          ],
        },
      });
      const res = await small.gql(key, IDENTIFY, {
        input: {
          anonIdsToIdentify: [
            { externalId, anonId: a },
            { externalId, anonId: b },
          ],
        },
      });
      expect(res.data?.identifyUsers.results.map((r: any) => [r.outcome, r.reason])).toEqual([
        ['MERGED', null],
        ['REJECTED', 'too_many_identifiers'],
      ]);
    } finally {
      await small.close();
    }
  });
});

describe('identifyUsers requests', () => {
  it('keeps input order across the lists, and later items see earlier ones', async () => {
    const { key } = await gw.newWorkspace();
    const alias = anAlias();
    await gw.gql(key, TRACK, { input: { events: [{ userAlias: alias, ...anEvent() }] } });
    const anonId = await anonymous(key);
    const externalId = anExternalId();
    const res = await gw.gql(key, IDENTIFY, {
      input: {
        anonIdsToIdentify: [{ externalId, anonId }],
        aliasesToIdentify: [{ externalId, userAlias: alias }],
      },
    });
    expect(res.data?.identifyUsers.results.map((r: any) => [r.index, r.outcome])).toEqual([
      [0, 'IDENTIFIED'],
      [1, 'MERGED'],
    ]);
  });

  it('dryRun returns the would-be results and writes nothing', async () => {
    const { key } = await gw.newWorkspace();
    const externalId = await identified(key);
    const anonId = await anonymous(key);
    const res = await gw.gql(key, IDENTIFY, {
      input: { dryRun: true, anonIdsToIdentify: [{ externalId, anonId }] },
    });
    expect(res.data?.identifyUsers).toMatchObject({ dryRun: true, aliasesProcessed: 1 });
    expect(res.data?.identifyUsers.results[0]).toMatchObject({
      outcome: 'MERGED',
      merge: null,
      deliveries: [],
    });
    const anon = await gw.gql(key, PROFILE, { by: { anonId } });
    expect(anon.data?.profile.externalId).toBeNull();
    expect((await gw.gql(key, `{ merges { totalCount } }`)).data?.merges.totalCount).toBe(0);
  });

  it('returns the first result for a repeated idempotencyKey, and CONFLICT for another request under it', async () => {
    const { key } = await gw.newWorkspace();
    const externalId = await identified(key);
    const anonId = await anonymous(key);
    const idempotencyKey = anExternalId('idem');
    const input = { idempotencyKey, anonIdsToIdentify: [{ externalId, anonId }] };
    const first = await gw.gql(key, IDENTIFY, { input });
    const second = await gw.gql(key, IDENTIFY, { input });
    expect(first.data?.identifyUsers.results[0].outcome).toBe('MERGED');
    expect(second.data).toEqual(first.data);
    expect((await gw.gql(key, `{ merges { totalCount } }`)).data?.merges.totalCount).toBe(1);
    const other = await gw.gql(key, IDENTIFY, {
      input: {
        idempotencyKey,
        anonIdsToIdentify: [{ externalId: anExternalId(), anonId: anAnonId() }],
      },
    });
    expect(codes(other)).toEqual(['CONFLICT']);
  });

  it.each([
    [
      'more than 50 identifiers',
      {
        anonIdsToIdentify: Array.from({ length: 51 }, () => ({
          externalId: 'u',
          anonId: anAnonId(),
        })),
      },
    ],
    ['empty lists', { aliasesToIdentify: [], emailsToIdentify: [], anonIdsToIdentify: [] }],
    [
      'an empty prioritization',
      { emailsToIdentify: [{ externalId: 'u', email: 'a@b.c', prioritization: [] }] },
    ],
    [
      'IDENTIFIED with UNIDENTIFIED',
      {
        emailsToIdentify: [
          { externalId: 'u', email: 'a@b.c', prioritization: ['IDENTIFIED', 'UNIDENTIFIED'] },
        ],
      },
    ],
    [
      'MOST with LEAST recently updated',
      {
        emailsToIdentify: [
          {
            externalId: 'u',
            email: 'a@b.c',
            prioritization: ['MOST_RECENTLY_UPDATED', 'LEAST_RECENTLY_UPDATED'],
          },
        ],
      },
    ],
    ['a NUL character', { anonIdsToIdentify: [{ externalId: 'u\u0000', anonId: anAnonId() }] }],
    [
      'a blank alias label',
      { aliasesToIdentify: [{ externalId: 'u', userAlias: { aliasLabel: ' ', aliasName: 'x' } }] },
    ],
    [
      'a 256-character external id',
      { anonIdsToIdentify: [{ externalId: 'x'.repeat(256), anonId: anAnonId() }] },
    ],
  ])('answers BAD_USER_INPUT for %s and writes nothing', async (_name, input) => {
    const { key } = await gw.newWorkspace();
    const anonId = await anonymous(key);
    // A valid item rides along (unless the case is about empty lists) and must not be applied.
    const valid = { externalId: anExternalId(), anonId };
    const empty = Object.values(input).every((list) => (list as unknown[]).length === 0);
    const withValid = empty
      ? input
      : { ...input, anonIdsToIdentify: [...((input as any).anonIdsToIdentify ?? []), valid] };
    const res = await gw.gql(key, IDENTIFY, { input: withValid });
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect((await gw.gql(key, PROFILE, { by: { anonId } })).data?.profile.externalId).toBeNull();
  });

  it('needs the users:identify scope', async () => {
    const { workspaceId } = await gw.newWorkspace();
    const tracker = await gw.newKey(workspaceId, ['users:track', 'profiles:read']);
    const res = await gw.gql(tracker, IDENTIFY, {
      input: { anonIdsToIdentify: [{ externalId: 'u', anonId: anAnonId() }] },
    });
    expect(codes(res)).toEqual(['FORBIDDEN']);
  });
});

describe('merges', () => {
  it('lists merges newest first, filtered by profile, with opaque cursors', async () => {
    const { key } = await gw.newWorkspace();
    const externalId = await identified(key);
    const anonIds = [await anonymous(key), await anonymous(key), await anonymous(key)];
    for (const anonId of anonIds) {
      await gw.gql(key, IDENTIFY, { input: { anonIdsToIdentify: [{ externalId, anonId }] } });
    }
    const other = await anonymous(key);
    await gw.gql(key, IDENTIFY, {
      input: { anonIdsToIdentify: [{ externalId: anExternalId(), anonId: other }] },
    });
    const survivor = (await gw.gql(key, PROFILE, { by: { externalId } })).data!.profile;
    const q = `query ($after: String, $p: ID) { merges(first: 2, after: $after, profileId: $p) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { id survivor { id } } } } }`;
    const page1 = await gw.gql(key, q, { p: survivor.id });
    expect(page1.data?.merges.totalCount).toBe(3);
    const page2 = await gw.gql(key, q, {
      p: survivor.id,
      after: page1.data?.merges.pageInfo.endCursor,
    });
    const ids = [...page1.data!.merges.edges, ...page2.data!.merges.edges].map(
      (e: any) => e.node.id,
    );
    expect(ids).toEqual(survivor.merges.map((m: any) => m.id));
    expect([...ids].sort().reverse()).toEqual(ids);
    expect(codes(await gw.gql(key, q, { p: 'nope' }))).toEqual(['BAD_USER_INPUT']);
  });
});
