import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { anAlias, anAnonId, anEvent, anExternalId, aPurchase } from '../helpers/builders.js';
import {
  codes,
  startTestGateway,
  type GraphQLResponse,
  type TestGateway,
} from '../helpers/gateway.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw?.close();
});

const TRACK = `mutation ($input: TrackUsersInput!) { trackUsers(input: $input) { message } }`;
const LOOKUP = `query ($by: ProfileLookup!) { profile(by: $by) { id externalId email } }`;
const PAGE = `query ($first: Int, $after: String, $identified: Boolean, $email: String) {
  profiles(first: $first, after: $after, identified: $identified, email: $email) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id externalId } }
  }
}`;

describe('profile(by:)', () => {
  it('finds one profile by each kind of key', async () => {
    const { key } = await gw.newWorkspace();
    const externalId = anExternalId();
    const anonId = anAnonId();
    const alias = anAlias();
    await gw.gql(key, TRACK, {
      input: {
        attributes: [{ externalId, email: 'Me@Example.com' }],
        events: [{ externalId, ...anEvent() }],
      },
    });
    await gw.gql(
      key,
      `mutation ($i: CreateAliasesInput!) { createAliases(input: $i) { message } }`,
      {
        i: {
          userAliases: [
            { ...alias, externalId },
            { aliasLabel: 'anon_id', aliasName: anonId, externalId },
          ],
        },
      },
    );
    const byExternal = await gw.gql(key, LOOKUP, { by: { externalId } });
    const id = byExternal.data?.profile.id as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    for (const by of [{ id }, { alias }, { anonId }, { email: 'me@EXAMPLE.com' }]) {
      const res = await gw.gql(key, LOOKUP, { by });
      expect(res.data?.profile, JSON.stringify(by)).toEqual({
        id,
        externalId,
        email: 'me@example.com',
      });
    }
  });

  it('answers null for an identifier nobody holds', async () => {
    const { key } = await gw.newWorkspace();
    expect((await gw.gql(key, LOOKUP, { by: { externalId: 'nobody' } })).data).toEqual({
      profile: null,
    });
    expect(
      (await gw.gql(key, LOOKUP, { by: { id: '01a20829-e3f4-73c7-9535-c961127a11da' } })).data,
    ).toEqual({
      profile: null,
    });
  });

  it('needs exactly one key', async () => {
    const { key } = await gw.newWorkspace();
    expect(codes(await gw.gql(key, LOOKUP, { by: {} }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gw.gql(key, LOOKUP, { by: { externalId: 'a', email: 'a@b.c' } }))).toEqual([
      'BAD_USER_INPUT',
    ]);
    expect(codes(await gw.gql(key, LOOKUP, { by: { id: 'not-an-id' } }))).toEqual([
      'BAD_USER_INPUT',
    ]);
  });
});

describe('profiles', () => {
  it('pages through every live profile once, in creation order, with opaque cursors', async () => {
    const { key } = await gw.newWorkspace();
    const ids = Array.from({ length: 7 }, () => anExternalId());
    for (const externalId of ids) {
      await gw.gql(key, TRACK, { input: { events: [{ externalId, ...anEvent() }] } });
    }
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 5; page++) {
      const res: GraphQLResponse = await gw.gql(key, PAGE, { first: 3, after });
      const conn: any = res.data!.profiles;
      expect(conn.totalCount).toBe(7);
      seen.push(...conn.edges.map((e: { node: { externalId: string } }) => e.node.externalId));
      expect(conn.edges.at(-1)?.cursor ?? null).toBe(conn.pageInfo.endCursor);
      expect(conn.edges[0]?.cursor ?? null).toBe(conn.pageInfo.startCursor);
      expect(conn.pageInfo.hasPreviousPage).toBe(page > 0);
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
      expect(after).not.toContain(conn.edges.at(-1).node.id);
    }
    expect(seen).toEqual(ids);
    // An empty page has no cursors; one read after a cursor still has items before it.
    const last = (await gw.gql(key, PAGE, { first: 7 })).data!.profiles.pageInfo.endCursor;
    const empty = (await gw.gql(key, PAGE, { first: 3, after: last })).data!.profiles;
    expect(empty.edges).toEqual([]);
    expect(empty.pageInfo).toEqual({
      hasNextPage: false,
      hasPreviousPage: true,
      startCursor: null,
      endCursor: null,
    });
  });

  it('filters by identified and by email', async () => {
    const { key } = await gw.newWorkspace();
    const externalId = anExternalId();
    await gw.gql(key, TRACK, {
      input: {
        attributes: [
          { externalId, email: 'x@y.z' },
          { anonId: anAnonId(), email: 'x@y.z' },
        ],
        events: [{ anonId: anAnonId(), ...anEvent() }],
      },
    });
    const identified = await gw.gql(key, PAGE, { identified: true });
    expect(identified.data?.profiles.edges.map((e: any) => e.node.externalId)).toEqual([
      externalId,
    ]);
    expect((await gw.gql(key, PAGE, { identified: false })).data?.profiles.totalCount).toBe(2);
    expect((await gw.gql(key, PAGE, { email: 'X@Y.Z' })).data?.profiles.totalCount).toBe(2);
  });

  it('refuses a cursor it did not issue and a page size over 100', async () => {
    const { key } = await gw.newWorkspace();
    expect(codes(await gw.gql(key, PAGE, { after: 'garbage' }))).toEqual(['BAD_USER_INPUT']);
    expect(
      codes(await gw.gql(key, PAGE, { after: Buffer.from('c1:["x"]').toString('base64url') })),
    ).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gw.gql(key, PAGE, { first: 101 }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gw.gql(key, PAGE, { first: -1 }))).toEqual(['BAD_USER_INPUT']);
    expect((await gw.gql(key, PAGE, { first: 0 })).data?.profiles.edges).toEqual([]);
  });

  it('loads the children of a whole page with a bounded number of queries (no N+1)', async () => {
    const { key } = await gw.newWorkspace();
    const input = {
      events: Array.from({ length: 20 }, () => ({ anonId: anAnonId(), ...anEvent() })),
      purchases: [] as unknown[],
    };
    input.purchases = input.events.map((e) => ({ anonId: e.anonId, ...aPurchase() }));
    await gw.gql(key, TRACK, { input });
    const query = `{ profiles(first: 20) { edges { node {
      id anonIds aliases { aliasName profile { id } } events { name count dailyCounts { count } }
      purchases { count } pushTokens { token } apps { appId }
    } } } }`;
    gw.queries.length = 0;
    const res = await gw.gql(key, query);
    expect(res.errors).toBeUndefined();
    expect(res.data?.profiles.edges).toHaveLength(20);
    // auth + page + aliases + alias profiles + events + daily counts + purchases + tokens + apps
    expect(gw.queries.length).toBeLessThanOrEqual(10);
  });
});

describe('aliases', () => {
  it('pages aliases in (label, name) order and filters by label and name', async () => {
    const { key } = await gw.newWorkspace();
    const names = ['c', 'a', 'b', 'd'].map((n) => `${n}-${anExternalId()}`);
    await gw.gql(
      key,
      `mutation ($i: CreateAliasesInput!) { createAliases(input: $i) { message } }`,
      {
        i: { userAliases: names.map((aliasName) => ({ aliasLabel: 'crm', aliasName })) },
      },
    );
    const q = `query ($after: String, $label: String, $name: String) {
      aliases(first: 3, after: $after, aliasLabel: $label, aliasName: $name) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { aliasLabel aliasName profile { externalId } } }
      }
    }`;
    const first = await gw.gql(key, q, { label: 'crm' });
    expect(first.data?.aliases.totalCount).toBe(4);
    const second = await gw.gql(key, q, {
      label: 'crm',
      after: first.data?.aliases.pageInfo.endCursor,
    });
    const all = [...first.data!.aliases.edges, ...second.data!.aliases.edges].map(
      (e: any) => e.node.aliasName,
    );
    expect(all).toEqual([...names].sort());
    expect(second.data?.aliases.pageInfo.hasNextPage).toBe(false);
    const one = await gw.gql(key, q, { name: names[0] });
    expect(one.data?.aliases.edges).toEqual([
      { node: { aliasLabel: 'crm', aliasName: names[0], profile: { externalId: null } } },
    ]);
  });
});
