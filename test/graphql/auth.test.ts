import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { anAnonId, anEvent, anExternalId } from '../helpers/builders.js';
import { codes, startTestGateway, type TestGateway } from '../helpers/gateway.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw?.close();
});

const PROFILE = `query ($x: String!) { profile(by: { externalId: $x }) { id externalId } }`;
const TRACK = `mutation ($input: TrackUsersInput!) { trackUsers(input: $input) { eventsProcessed } }`;

describe('authentication', () => {
  it('answers 401 UNAUTHENTICATED without an Authorization header', async () => {
    const res = await gw.gql(null, PROFILE, { x: 'a' });
    expect(res.status).toBe(401);
    expect(codes(res)).toEqual(['UNAUTHENTICATED']);
  });

  it('answers 401 UNAUTHENTICATED for an unknown key', async () => {
    const res = await gw.gql('igw_not-a-real-key', PROFILE, { x: 'a' });
    expect(res.status).toBe(401);
    expect(codes(res)).toEqual(['UNAUTHENTICATED']);
  });

  it('answers 401 for a malformed Authorization header', async () => {
    const res = await fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Basic abc' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(res.status).toBe(401);
  });

  it('needs no key for the health endpoints', async () => {
    const base = gw.url.replace('/graphql', '');
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ok',
      checks: { database: 'ok', migrations: 'ok' },
    });
  });
});

describe('scopes', () => {
  it('lets a read-only key query but not track', async () => {
    const { workspaceId } = await gw.newWorkspace();
    const reader = await gw.newKey(workspaceId, ['profiles:read']);
    expect((await gw.gql(reader, PROFILE, { x: 'nobody' })).data).toEqual({ profile: null });
    const res = await gw.gql(reader, TRACK, {
      input: { events: [{ anonId: anAnonId(), ...anEvent() }] },
    });
    expect(codes(res)).toEqual(['FORBIDDEN']);
    expect(res.data).toBeNull();
  });

  it('lets a tracking key track but not read', async () => {
    const { workspaceId } = await gw.newWorkspace();
    const tracker = await gw.newKey(workspaceId, ['users:track']);
    const tracked = await gw.gql(tracker, TRACK, {
      input: { events: [{ externalId: 'u-1', ...anEvent() }] },
    });
    expect(tracked.data).toEqual({ trackUsers: { eventsProcessed: 1 } });
    expect(codes(await gw.gql(tracker, PROFILE, { x: 'u-1' }))).toEqual(['FORBIDDEN']);
  });

  it('treats admin as every scope of its workspace', async () => {
    const { key } = await gw.newWorkspace();
    const res = await gw.gql(key, TRACK, {
      input: { events: [{ externalId: 'u-2', ...anEvent() }] },
    });
    expect(res.errors).toBeUndefined();
    expect((await gw.gql(key, PROFILE, { x: 'u-2' })).data?.profile?.externalId).toBe('u-2');
  });
});

describe('workspace isolation', () => {
  it('never shows one workspace the profiles or aliases of another', async () => {
    const a = await gw.newWorkspace();
    const b = await gw.newWorkspace();
    const externalId = anExternalId();
    const anonId = anAnonId();
    await gw.gql(a.key, TRACK, {
      input: {
        events: [
          { externalId, ...anEvent() },
          { anonId, ...anEvent() },
        ],
      },
    });
    const inA = await gw.gql(a.key, PROFILE, { x: externalId });
    expect(inA.data?.profile?.externalId).toBe(externalId);
    const profileId = inA.data!.profile.id as string;

    expect((await gw.gql(b.key, PROFILE, { x: externalId })).data).toEqual({ profile: null });
    const byId = await gw.gql(b.key, `query ($id: ID!) { profile(by: { id: $id }) { id } }`, {
      id: profileId,
    });
    expect(byId.data).toEqual({ profile: null });
    const byAnon = await gw.gql(
      b.key,
      `query ($a: String!) { profile(by: { anonId: $a }) { id } }`,
      { a: anonId },
    );
    expect(byAnon.data).toEqual({ profile: null });
    const lists = await gw.gql(b.key, `{ profiles { totalCount } aliases { totalCount } }`);
    expect(lists.data).toEqual({ profiles: { totalCount: 0 }, aliases: { totalCount: 0 } });
  });

  it('keeps the same external id apart in two workspaces', async () => {
    const a = await gw.newWorkspace();
    const b = await gw.newWorkspace();
    const x = anExternalId();
    await gw.gql(a.key, TRACK, { input: { events: [{ externalId: x, ...anEvent() }] } });
    await gw.gql(b.key, TRACK, {
      input: {
        events: [
          { externalId: x, ...anEvent() },
          { externalId: x, ...anEvent() },
        ],
      },
    });
    const q = `query ($x: String!) { profile(by: { externalId: $x }) { id events { count } } }`;
    const pa = await gw.gql(a.key, q, { x });
    const pb = await gw.gql(b.key, q, { x });
    expect(pa.data?.profile.events).toEqual([{ count: 1 }]);
    expect(pb.data?.profile.events).toEqual([{ count: 2 }]);
    expect(pa.data?.profile.id).not.toBe(pb.data?.profile.id);
  });
});
