import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { codes, startTestGateway, type TestGateway } from '../helpers/gateway.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({
    RATE_LIMIT_PER_MINUTE: '5',
    MAX_QUERY_DEPTH: '8',
    MAX_QUERY_COST: '5000',
    MAX_QUERY_TOKENS: '200',
  });
});
afterAll(async () => {
  await gw?.close();
});

describe('request limits', () => {
  it('answers RATE_LIMITED with a retry hint once a key used its budget, per key', async () => {
    const a = await gw.newWorkspace();
    const b = await gw.newWorkspace();
    for (let i = 0; i < 5; i++)
      expect((await gw.gql(a.key, `{ profiles { totalCount } }`)).errors).toBeUndefined();
    const res = await fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${a.key}` },
      body: JSON.stringify({ query: '{ profiles { totalCount } }' }),
    });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    const body = (await res.json()) as { errors: { extensions: Record<string, unknown> }[] };
    expect(body.errors[0]?.extensions['code']).toBe('RATE_LIMITED');
    expect(body.errors[0]?.extensions['retryAfterSeconds']).toBeGreaterThan(0);
    // Another key has its own budget.
    expect((await gw.gql(b.key, `{ profiles { totalCount } }`)).errors).toBeUndefined();
  });

  it('refuses a query nested deeper than the limit', async () => {
    const { key } = await gw.newWorkspace();
    const deep = `{ aliases { edges { node { profile { aliases { profile { aliases { profile { id } } } } } } } } }`;
    const res = await gw.gql(key, deep);
    expect(res.status).toBe(400);
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.errors?.[0]?.message).toMatch(/levels deep/);
  });

  it('refuses a query whose fragments spread into more selections than the estimate counts', async () => {
    const { key } = await gw.newWorkspace();
    const levels = 5;
    const query = [
      `query { ...F${levels} }`,
      'fragment F0 on Query { __typename }',
      ...Array.from(
        { length: levels },
        (_, i) => `fragment F${i + 1} on Query { ${`...F${i} `.repeat(10)}}`,
      ),
    ].join('\n');
    const res = await gw.gql(key, query);
    expect(res.status).toBe(400);
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.errors?.[0]?.message).toMatch(/cannot be counted/);
  });

  it('stops parsing a document longer than MAX_QUERY_TOKENS, however it is nested', async () => {
    const { key } = await gw.newWorkspace();
    for (const query of [
      `{ ${'profiles { edges { node { '.repeat(5_000)}id${' } } }'.repeat(5_000)} }`,
      `{ ${Array.from({ length: 150 }, (_, i) => `a${i}: __typename`).join(' ')} }`,
    ]) {
      const res = await gw.gql(key, query);
      expect(res.status).toBe(400);
      expect(codes(res)).toEqual(['GRAPHQL_PARSE_FAILED']);
      expect(res.errors?.[0]?.message).toMatch(/200 tokens/);
    }
    expect((await gw.gql(key, `{ profiles { totalCount } }`)).errors).toBeUndefined();
  });

  it('refuses a query that may return too many objects, and allows a smaller page', async () => {
    // Per profile: aliases up to MAX_IDS_PER_PROFILE (500), 10 events of 30 daily counts each.
    const { key } = await gw.newWorkspace();
    const query = (first: number) =>
      `{ profiles(first: ${first}) { edges { node { id aliases { aliasName } events { name dailyCounts { day count } } } } } }`;
    const big = await gw.gql(key, query(100));
    expect(codes(big)).toEqual(['BAD_USER_INPUT']);
    expect(big.errors?.[0]?.message).toMatch(/at most 5000/);
    expect((await gw.gql(key, query(4))).errors).toBeUndefined();
  });
});

describe('the cost estimate', () => {
  const measure = async (q: string, variables = {}, maxIdsPerProfile = 500) => {
    const { measureOperation } = await import('../../src/http/limits.js');
    const { buildGatewaySchema } = await import('../../src/http/build-schema.js');
    const { parse } = await import('graphql');
    return measureOperation(buildGatewaySchema(), parse(q), null, variables, { maxIdsPerProfile })
      .cost;
  };

  it('counts a connection’s edges by its page size and its totalCount and pageInfo once', async () => {
    expect(await measure('{ profiles { totalCount } }')).toBe(2);
    expect(await measure('{ profiles(first: 50) { totalCount pageInfo { hasNextPage } } }')).toBe(
      1 + 1 + 2,
    );
    // per item of the page: edges 1 + node 1 + id 1
    expect(await measure('{ profiles(first: 20) { totalCount edges { node { id } } } }')).toBe(
      1 + 1 + 20 * 3,
    );
  });

  it('sizes a profile’s identifiers by MAX_IDS_PER_PROFILE and its daily counts by 30 days', async () => {
    const aliases = '{ profiles(first: 20) { edges { node { aliases { aliasName } } } } }';
    // per profile: edges 1 + node 1 + aliases (1 + one aliasName per identifier)
    expect(await measure(aliases)).toBe(1 + 20 * (1 + 1 + (1 + 500)));
    expect(await measure(aliases, {}, 100)).toBe(1 + 20 * (1 + 1 + (1 + 100)));
    const days = '{ profile(by: { externalId: "u" }) { events { dailyCounts { day count } } } }';
    // profile 1 + events (1 + 10 events × dailyCounts (1 + 30 days × 2))
    expect(await measure(days)).toBe(1 + 1 + 10 * (1 + 30 * 2));
  });

  it('takes an omitted variable’s page size from its default, then from the field’s', async () => {
    const withDefault = 'query ($n: Int = 200) { profiles(first: $n) { edges { node { id } } } }';
    expect(await measure(withDefault)).toBe(1 + 200 * 3);
    expect(await measure(withDefault, { n: 5 })).toBe(1 + 5 * 3);
    const withoutDefault = 'query ($n: Int) { profiles(first: $n) { edges { node { id } } } }';
    expect(await measure(withoutDefault)).toBe(
      await measure('{ profiles { edges { node { id } } } }'),
    );
    expect(await measure(withoutDefault)).toBe(1 + 20 * 3);
  });

  it('counts fragments where they are spread, and calls a query with too many to count too costly', async () => {
    const spread = (name: string, times: number) => ` ${`...${name} `.repeat(times)}`;
    const nested = (levels: number) =>
      [
        `query { ...F${levels} }`,
        'fragment F0 on Query { __typename }',
        ...Array.from(
          { length: levels },
          (_, i) => `fragment F${i + 1} on Query {${spread(`F${i}`, 10)}}`,
        ),
      ].join('\n');
    expect(await measure(nested(2))).toBe(100);
    expect(await measure(nested(5))).toBe(Number.POSITIVE_INFINITY);
    // Each fragment is walked once: a billion expansions are not walked one by one.
    expect(await measure(nested(9))).toBe(Number.POSITIVE_INFINITY);
  });

  it('reuses the cost of a parsed document only where no variable can change it', async () => {
    const { measureOperation } = await import('../../src/http/limits.js');
    const { buildGatewaySchema } = await import('../../src/http/build-schema.js');
    const { parse } = await import('graphql');
    const schema = buildGatewaySchema();
    const context = { maxIdsPerProfile: 500 };
    const paged = parse('query ($n: Int) { profiles(first: $n) { edges { node { id } } } }');
    expect(measureOperation(schema, paged, null, { n: 5 }, context).cost).toBe(1 + 5 * 3);
    expect(measureOperation(schema, paged, null, { n: 50 }, context).cost).toBe(1 + 50 * 3);
    const fixed = parse(
      'query ($id: String!) { profile(by: { externalId: $id }) { aliases { aliasName } } }',
    );
    const once = measureOperation(schema, fixed, null, { id: 'a' }, context).cost;
    expect(measureOperation(schema, fixed, null, { id: 'b' }, context).cost).toBe(once);
    expect(measureOperation(schema, fixed, null, { id: 'b' }, { maxIdsPerProfile: 10 }).cost).toBe(
      1 + 1 + 10,
    );
  });

  it('counts each selection once where nothing multiplies, whatever the variables hold', async () => {
    const track =
      'mutation ($i: TrackUsersInput!) { trackUsers(input: $i) { eventsProcessed message } }';
    const events = Array.from({ length: 75 }, (_, k) => ({ externalId: `u-${k}`, name: 'e' }));
    expect(await measure(track, { i: { events } })).toBe(3);
    expect(await measure('{ __typename }')).toBe(1);
  });

  it('leaves variables that do not fit the operation to execution, which refuses them', async () => {
    const query = 'query ($n: Int) { profiles(first: $n) { totalCount } }';
    expect(await measure(query, { n: 'many' })).toBeNull();
  });
});

describe('production defaults', () => {
  it('turn introspection off, refuse CSRF-prone requests, and hide internals', async () => {
    const prod = await startTestGateway({ NODE_ENV: 'production' });
    try {
      const { key } = await prod.newWorkspace();
      const introspection = await prod.gql(key, `{ __schema { types { name } } }`);
      expect(introspection.status).toBe(400);
      expect(codes(introspection)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
      // A simple cross-site request (no preflight) is refused before it runs.
      const csrf = await fetch(
        `${prod.url}?query=${encodeURIComponent('{ profiles { totalCount } }')}`,
        {
          headers: { authorization: `Bearer ${key}` },
        },
      );
      expect(csrf.status).toBe(400);
      const form = await fetch(prod.url, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', authorization: `Bearer ${key}` },
        body: JSON.stringify({ query: '{ profiles { totalCount } }' }),
      });
      expect(form.status).toBe(400);
      const big = await fetch(prod.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({
          query: `{ profiles { totalCount } }`,
          padding: 'x'.repeat(1_100_000),
        }),
      });
      expect(big.status).toBe(413);
    } finally {
      await prod.close();
    }
  });
});
