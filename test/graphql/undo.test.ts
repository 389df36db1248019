import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { anAnonId, anEvent, anExternalId, aSession } from '../helpers/builders.js';
import { codes, startTestGateway, type TestGateway } from '../helpers/gateway.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw?.close();
});

const TRACK = `mutation ($i: TrackUsersInput!) { trackUsers(input: $i) { message } }`;
const UNDO = `mutation ($id: ID!) { undoMerge(id: $id) { id undoneAt survivor { id } deliveries { vendor status lastError type } } }`;
const PROFILE = `query ($by: ProfileLookup!) {
  profile(by: $by) { id externalId anonIds sessionCount customAttributes firstName events { name count } purchases { count } }
}`;

async function mergedPair(key: string) {
  const externalId = anExternalId();
  const anonId = anAnonId();
  await gw.gql(key, TRACK, {
    i: {
      attributes: [
        { externalId, firstName: 'Known' },
        { anonId, lastName: 'Anon', customAttributes: { plan: 'pro' } },
      ],
      events: [
        { externalId, ...anEvent({ name: 'visit' }) },
        { anonId, ...anEvent({ name: 'visit' }) },
        { anonId, ...anEvent({ name: 'ad_click' }) },
      ],
      sessions: [
        { externalId, ...aSession() },
        { anonId, ...aSession() },
      ],
    },
  });
  const before = (await gw.gql(key, PROFILE, { by: { externalId } })).data!.profile;
  const anonBefore = (await gw.gql(key, PROFILE, { by: { anonId } })).data!.profile;
  const res = await gw.gql(
    key,
    `mutation ($i: IdentifyUsersInput!) { identifyUsers(input: $i) { results { merge { id } } } }`,
    {
      i: { anonIdsToIdentify: [{ externalId, anonId }] },
    },
  );
  return {
    externalId,
    anonId,
    before,
    anonBefore,
    mergeId: res.data!.identifyUsers.results[0].merge.id as string,
  };
}

describe('undoMerge', () => {
  it('restores both profiles as they were and records that no vendor can follow', async () => {
    const { key } = await gw.newWorkspace({
      braze: { apiKey: 'k', restEndpoint: 'http://127.0.0.1:9' },
      mixpanel: {
        token: 't',
        apiHost: 'http://127.0.0.1:9',
        idMerge: 'ORIGINAL',
        serviceAccount: null,
        projectId: null,
      },
    });
    const { externalId, anonId, before, anonBefore, mergeId } = await mergedPair(key);
    const merged = (await gw.gql(key, PROFILE, { by: { externalId } })).data!.profile;
    expect(merged).toMatchObject({ sessionCount: 2, customAttributes: { plan: 'pro' } });

    const res = await gw.gql(key, UNDO, { id: mergeId });
    expect(res.errors).toBeUndefined();
    expect(res.data?.undoMerge.undoneAt).toBeTruthy();
    const skipped = res.data!.undoMerge.deliveries.filter(
      (d: { status: string }) => d.status === 'SKIPPED',
    );
    expect(skipped.map((d: { vendor: string }) => d.vendor).sort()).toEqual(['BRAZE', 'MIXPANEL']);
    expect(
      skipped.every(
        (d: { lastError: string; type: string }) =>
          /cannot split/.test(d.lastError) && d.type === 'identity.merge_undone.v1',
      ),
    ).toBe(true);

    expect((await gw.gql(key, PROFILE, { by: { externalId } })).data?.profile).toEqual(before);
    expect((await gw.gql(key, PROFILE, { by: { anonId } })).data?.profile).toEqual(anonBefore);
    expect(codes(await gw.gql(key, UNDO, { id: mergeId }))).toEqual(['CONFLICT']);
  });

  it('keeps what happened to other fields since, and refuses when a merged field changed', async () => {
    const { key } = await gw.newWorkspace();
    const first = await mergedPair(key);
    // A new event name does not touch what the merge combined.
    await gw.gql(key, TRACK, {
      i: { events: [{ externalId: first.externalId, ...anEvent({ name: 'checkout' }) }] },
    });
    expect((await gw.gql(key, UNDO, { id: first.mergeId })).errors).toBeUndefined();
    const after = (await gw.gql(key, PROFILE, { by: { externalId: first.externalId } })).data!
      .profile;
    expect(after.events.map((e: { name: string; count: number }) => [e.name, e.count])).toEqual([
      ['checkout', 1],
      ['visit', 1],
    ]);

    const second = await mergedPair(key);
    await gw.gql(key, TRACK, {
      i: { events: [{ externalId: second.externalId, ...anEvent({ name: 'visit' }) }] },
    });
    const refused = await gw.gql(key, UNDO, { id: second.mergeId });
    expect(codes(refused)).toEqual(['CONFLICT']);
    expect(refused.errors?.[0]?.extensions?.['fields']).toContain('events.visit');
    expect(
      (await gw.gql(key, PROFILE, { by: { anonId: second.anonId } })).data?.profile.externalId,
    ).toBe(second.externalId);
  });

  it('answers NOT_FOUND for an unknown merge and BAD_USER_INPUT for a malformed id', async () => {
    const { key } = await gw.newWorkspace();
    expect(codes(await gw.gql(key, UNDO, { id: '01a20829-e3f4-73c7-9535-c961127a11da' }))).toEqual([
      'NOT_FOUND',
    ]);
    expect(codes(await gw.gql(key, UNDO, { id: 'x' }))).toEqual(['BAD_USER_INPUT']);
  });
});
