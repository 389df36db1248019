import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { anAnonId, anEvent, anExternalId } from '../helpers/builders.js';
import { codes, startTestGateway, type TestGateway } from '../helpers/gateway.js';

let gw: TestGateway;
let root: string;
beforeAll(async () => {
  gw = await startTestGateway();
  const { workspaceId } = await gw.newWorkspace();
  root = await gw.newKey(workspaceId, ['root', 'admin']);
});
afterAll(async () => {
  await gw?.close();
});

const CREATE_WORKSPACE = `mutation ($input: CreateWorkspaceInput!) {
  createWorkspace(input: $input) {
    workspace { id name anonIdLabel mixpanelConfigured brazeConfigured createdAt }
    apiKey { key apiKey { id name scopes revokedAt } }
  }
}`;
const CREATE_KEY = `mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { key apiKey { id name scopes } } }`;
const REVOKE = `mutation ($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`;

async function workspaceWithAdmin(extra: Record<string, unknown> = {}) {
  const res = await gw.gql(root, CREATE_WORKSPACE, {
    input: { name: anExternalId('ws'), ...extra },
  });
  expect(res.errors).toBeUndefined();
  return res.data!.createWorkspace as {
    workspace: { id: string };
    apiKey: { key: string; apiKey: { id: string } };
  };
}

describe('createWorkspace', () => {
  it('creates a workspace with vendor settings and returns its first admin key once', async () => {
    const res = await gw.gql(root, CREATE_WORKSPACE, {
      input: {
        name: 'Acme EU',
        anonIdLabel: 'device_id',
        mixpanel: { token: 'tok', apiHost: 'https://api-eu.mixpanel.com' },
        braze: { apiKey: 'secret', restEndpoint: 'https://rest.fra-01.braze.eu' },
      },
    });
    const created = res.data!.createWorkspace;
    expect(created.workspace).toMatchObject({
      name: 'Acme EU',
      anonIdLabel: 'device_id',
      mixpanelConfigured: true,
      brazeConfigured: true,
    });
    expect(created.apiKey.key).toMatch(/^igw_/);
    expect(created.apiKey.apiKey).toMatchObject({ scopes: ['admin'], revokedAt: null });
    // The new key works, in its own workspace, and vendor secrets are never readable back.
    const mine = await gw.gql(created.apiKey.key, `{ workspace { id name mixpanelConfigured } }`);
    expect(mine.data?.workspace).toEqual({
      id: created.workspace.id,
      name: 'Acme EU',
      mixpanelConfigured: true,
    });
    expect(JSON.stringify(mine)).not.toContain('secret');
  });

  it('needs the root scope; admin is not enough', async () => {
    const { apiKey } = await workspaceWithAdmin();
    const res = await gw.gql(apiKey.key, CREATE_WORKSPACE, { input: { name: 'x' } });
    expect(codes(res)).toEqual(['FORBIDDEN']);
  });

  it.each([
    ['a blank name', { name: ' ' }],
    [
      'a Braze endpoint that is not a URL',
      { name: 'x', braze: { apiKey: 'k', restEndpoint: 'rest.fra-01' } },
    ],
    [
      'a service account without a project id',
      { name: 'x', mixpanel: { token: 't', serviceAccount: 'u:s' } },
    ],
    [
      'a Mixpanel host with credentials',
      { name: 'x', mixpanel: { token: 't', apiHost: 'https://u:p@api.mixpanel.com' } },
    ],
  ])('refuses %s with BAD_USER_INPUT', async (_name, input) => {
    expect(codes(await gw.gql(root, CREATE_WORKSPACE, { input }))).toEqual(['BAD_USER_INPUT']);
  });
});

describe('API keys', () => {
  it('creates keys with chosen scopes, and a revoked key stops working at once', async () => {
    const { apiKey: admin } = await workspaceWithAdmin();
    const made = await gw.gql(admin.key, CREATE_KEY, {
      input: { name: 'frontend', scopes: ['profiles:read'] },
    });
    const reader = made.data!.createApiKey;
    expect(reader.apiKey).toMatchObject({ name: 'frontend', scopes: ['profiles:read'] });
    expect((await gw.gql(reader.key, `{ profiles { totalCount } }`)).data).toEqual({
      profiles: { totalCount: 0 },
    });
    expect(
      codes(await gw.gql(reader.key, CREATE_KEY, { input: { name: 'x', scopes: ['admin'] } })),
    ).toEqual(['FORBIDDEN']);

    const revoked = await gw.gql(admin.key, REVOKE, { id: reader.apiKey.id });
    expect(revoked.data?.revokeApiKey.revokedAt).toBeTruthy();
    const after = await gw.gql(reader.key, `{ profiles { totalCount } }`);
    expect(after.status).toBe(401);
    expect(codes(after)).toEqual(['UNAUTHENTICATED']);
    // Revoking again keeps the first revocation.
    const again = await gw.gql(admin.key, REVOKE, { id: reader.apiKey.id });
    expect(again.data?.revokeApiKey.revokedAt).toBe(revoked.data?.revokeApiKey.revokedAt);
  });

  it('refuses unknown scopes, an empty list, and a scope the creator lacks', async () => {
    const { apiKey: admin } = await workspaceWithAdmin();
    expect(
      codes(await gw.gql(admin.key, CREATE_KEY, { input: { name: 'x', scopes: ['everything'] } })),
    ).toEqual(['BAD_USER_INPUT']);
    expect(
      codes(await gw.gql(admin.key, CREATE_KEY, { input: { name: 'x', scopes: [] } })),
    ).toEqual(['BAD_USER_INPUT']);
    expect(
      codes(await gw.gql(admin.key, CREATE_KEY, { input: { name: 'x', scopes: ['root'] } })),
    ).toEqual(['FORBIDDEN']);
  });

  it('cannot revoke a key of another workspace', async () => {
    const a = await workspaceWithAdmin();
    const b = await workspaceWithAdmin();
    expect(codes(await gw.gql(b.apiKey.key, REVOKE, { id: a.apiKey.apiKey.id }))).toEqual([
      'NOT_FOUND',
    ]);
    expect(codes(await gw.gql(b.apiKey.key, REVOKE, { id: 'not-a-uuid' }))).toEqual([
      'BAD_USER_INPUT',
    ]);
    expect((await gw.gql(a.apiKey.key, `{ workspace { id } }`)).data?.workspace.id).toBe(
      a.workspace.id,
    );
  });
});

describe('a key of one workspace against the data of another', () => {
  it('reads nothing and changes nothing through any query or mutation', async () => {
    const a = await workspaceWithAdmin();
    const b = await workspaceWithAdmin();
    const externalId = anExternalId();
    const anonId = anAnonId();
    const alias = { aliasLabel: 'crm', aliasName: anExternalId('alias') };
    await gw.gql(
      a.apiKey.key,
      `mutation ($i: TrackUsersInput!) { trackUsers(input: $i) { message } }`,
      {
        i: {
          events: [
            { externalId, ...anEvent() },
            { anonId, ...anEvent() },
            { userAlias: alias, ...anEvent() },
          ],
        },
      },
    );
    const merged = await gw.gql(
      a.apiKey.key,
      `mutation ($i: IdentifyUsersInput!) { identifyUsers(input: $i) { results { outcome merge { id } profile { id } } } }`,
      {
        i: { anonIdsToIdentify: [{ externalId, anonId }] },
      },
    );
    const { merge, profile } = merged.data!.identifyUsers.results[0];
    const bKey = b.apiKey.key;
    const reads = await gw.gql(
      bKey,
      `query ($id: ID!, $x: String!, $a: String!) {
      byId: profile(by: { id: $id }) { id }
      byExternal: profile(by: { externalId: $x }) { id }
      byAnon: profile(by: { anonId: $a }) { id }
      profiles { totalCount } aliases { totalCount } merges { totalCount } deliveries { totalCount }
      ofProfile: merges(profileId: $id) { totalCount }
    }`,
      { id: profile.id, x: externalId, a: anonId },
    );
    expect(reads.data).toEqual({
      byId: null,
      byExternal: null,
      byAnon: null,
      profiles: { totalCount: 0 },
      aliases: { totalCount: 0 },
      merges: { totalCount: 0 },
      deliveries: { totalCount: 0 },
      ofProfile: { totalCount: 0 },
    });
    // Writes from B with A's identifiers land in B, never in A.
    const identify = await gw.gql(
      bKey,
      `mutation ($i: IdentifyUsersInput!) { identifyUsers(input: $i) { results { outcome } } }`,
      {
        i: {
          anonIdsToIdentify: [{ externalId: anExternalId(), anonId }],
          aliasesToIdentify: [{ externalId: 'z', userAlias: alias }],
        },
      },
    );
    expect(identify.data?.identifyUsers.results.map((r: { outcome: string }) => r.outcome)).toEqual(
      ['NOT_FOUND', 'NOT_FOUND'],
    );
    await gw.gql(
      bKey,
      `mutation ($i: CreateAliasesInput!) { createAliases(input: $i) { message } }`,
      {
        i: { userAliases: [{ ...alias, externalId }] },
      },
    );
    await gw.gql(bKey, `mutation ($i: TrackUsersInput!) { trackUsers(input: $i) { message } }`, {
      i: { attributes: [{ externalId, firstName: 'Mallory' }] },
    });
    const retry = await gw.gql(bKey, `mutation { retryDeliveries(ids: ["1"]) { id } }`);
    expect(codes(retry)).toEqual(['NOT_FOUND']);
    expect(
      codes(
        await gw.gql(bKey, `mutation ($id: ID!) { undoMerge(id: $id) { id } }`, { id: merge.id }),
      ),
    ).toEqual(['NOT_FOUND']);
    const inA = await gw.gql(
      a.apiKey.key,
      `query ($x: String!) { profile(by: { externalId: $x }) { firstName aliases { aliasName } merges { id } } }`,
      { x: externalId },
    );
    expect(inA.data?.profile).toEqual({
      firstName: null,
      aliases: [{ aliasName: anonId }],
      merges: [{ id: merge.id }],
    });
  });
});
