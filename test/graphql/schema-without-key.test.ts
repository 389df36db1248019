/**
 * Where the playground is on, the schema can be read without a key (its Docs pane and
 * autocompletion work at first sight); no data ever can, and introspection stays governed by
 * INTROSPECTION.
 */
import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

async function ask(
  gw: TestGateway,
  query: string,
  authorization?: string,
): Promise<{ status: number; body: any }> {
  const res = await fetch(gw.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(authorization === undefined ? {} : { authorization }),
    },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, body: await res.json() };
}

describe('with the playground on (development)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(() => gw?.close());

  it("answers the playground's introspection query without a key, or with an empty Bearer", async () => {
    for (const authorization of [undefined, '', 'Bearer ', 'bearer']) {
      const { status, body } = await ask(gw, getIntrospectionQuery(), authorization);
      expect(status).toBe(200);
      expect(body.data.__schema.queryType.name).toBe('Query');
    }
    const type = await ask(gw, '{ __type(name: "Profile") { name } __typename }');
    expect(type.body.data).toEqual({ __type: { name: 'Profile' }, __typename: 'Query' });
  });

  it('reads no data without a key, however the document mixes it in', async () => {
    const { key } = await gw.newWorkspace();
    await gw.gql(key, 'mutation ($i: TrackUsersInput!) { trackUsers(input: $i) { message } }', {
      i: { events: [{ externalId: 'user-1', name: 'e', time: new Date().toISOString() }] },
    });
    for (const query of [
      '{ profiles { totalCount } }',
      '{ __typename profiles { totalCount } }',
      '{ ...F } fragment F on Query { profiles { totalCount } }',
      '{ ... on Query { __typename workspace { name } } }',
      'mutation { __typename }',
      'query A { __typename } query B { profiles { totalCount } }',
    ]) {
      for (const authorization of [undefined, 'Bearer ']) {
        const { status, body } = await ask(gw, query, authorization);
        expect(status, query).toBe(401);
        expect(body.data ?? null, query).toBeNull();
        expect(body.errors[0].extensions.code, query).toBe('UNAUTHENTICATED');
      }
    }
    // A bad key is refused even for the schema: it is a mistake worth saying.
    expect((await ask(gw, '{ __typename }', 'Bearer igw_wrong')).status).toBe(401);
  });
});

describe('with the playground off', () => {
  it('needs a key for introspection too (production, even with INTROSPECTION=true)', async () => {
    const gw = await startTestGateway({ NODE_ENV: 'production', INTROSPECTION: 'true' });
    try {
      const { status, body } = await ask(gw, getIntrospectionQuery());
      expect(status).toBe(401);
      expect(body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    } finally {
      await gw.close();
    }
  });

  it('keeps introspection governed by INTROSPECTION where the playground is on', async () => {
    const gw = await startTestGateway({ PLAYGROUND: 'true', INTROSPECTION: 'false' });
    try {
      const { status, body } = await ask(gw, getIntrospectionQuery());
      expect(status).toBe(400);
      expect(body.data ?? null).toBeNull();
    } finally {
      await gw.close();
    }
  });
});
