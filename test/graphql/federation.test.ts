/**
 * The gateway as an Apollo Federation 2 subgraph: its SDL (from `_service`) composed with a small
 * `orders` subgraph by @apollo/composition, and queries through @apollo/gateway (in-process, a
 * static supergraph) that cross both, with the caller's API key forwarded to the gateway.
 */
import { composeServices } from '@apollo/composition';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { anAnonId, anEvent } from '../helpers/builders.js';
import { codes, startTestGateway, type TestGateway } from '../helpers/gateway.js';

/** A second subgraph: orders, each bought by a profile named by its external id. */
const ORDERS_SDL = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@shareable"])
  type Order @key(fields: "id") {
    id: ID!
    totalCents: Int!
    buyer: Profile
  }
  type Profile @key(fields: "externalId") {
    externalId: String
    orders: [Order!]!
  }
  type OrderConnection {
    nodes: [Order!]!
    pageInfo: PageInfo!
  }
  # Relay's PageInfo, defined here as well: it composes because both subgraphs share it.
  type PageInfo @shareable {
    hasNextPage: Boolean!
    hasPreviousPage: Boolean!
    startCursor: String
    endCursor: String
  }
  type Query {
    orders: [Order!]!
    orderPage: OrderConnection!
  }
`;
const ORDERS = [
  { id: 'o-1', totalCents: 1200, buyer: 'fed-ada' },
  { id: 'o-2', totalCents: 800, buyer: 'fed-ada' },
  { id: 'o-3', totalCents: 500, buyer: 'fed-nobody' },
];

interface Context {
  readonly authorization?: string;
}

let gw: TestGateway;
let orders: ApolloServer;
let supergraph: ApolloServer<Context>;
let key: string;

beforeAll(async () => {
  gw = await startTestGateway();
  ({ key } = await gw.newWorkspace());
  await gw.gql(key, `mutation ($i: TrackUsersInput!) { trackUsers(input: $i) { message } }`, {
    i: {
      events: [
        { externalId: 'fed-ada', ...anEvent() },
        { anonId: anAnonId(), ...anEvent() },
      ],
    },
  });

  orders = new ApolloServer({
    schema: buildSubgraphSchema({
      typeDefs: parse(ORDERS_SDL),
      resolvers: {
        Query: {
          orders: () => ORDERS,
          orderPage: () => ({
            nodes: ORDERS,
            pageInfo: {
              hasNextPage: false,
              hasPreviousPage: false,
              startCursor: 'o-1',
              endCursor: 'o-3',
            },
          }),
        },
        Order: {
          buyer: (o: (typeof ORDERS)[number]) => ({ __typename: 'Profile', externalId: o.buyer }),
        },
        Profile: {
          __resolveReference: (ref: { externalId: string }) => ({ externalId: ref.externalId }),
          orders: (p: { externalId: string }) => ORDERS.filter((o) => o.buyer === p.externalId),
        },
      },
    }),
  });
  const { url: ordersUrl } = await startStandaloneServer(orders, { listen: { port: 0 } });

  // The gateway's subgraph SDL, as a router's composition reads it (with a key, like any query).
  const sdl = (await gw.gql(key, '{ _service { sdl } }')).data!['_service'].sdl as string;
  expect(sdl).toContain('@key(fields: "id")');
  expect(sdl).toContain('@key(fields: "externalId")');
  const composed = composeServices([
    { name: 'identity', typeDefs: parse(sdl), url: gw.url },
    { name: 'orders', typeDefs: parse(ORDERS_SDL), url: ordersUrl },
  ]);
  expect(composed.errors ?? []).toEqual([]);
  const gateway = new ApolloGateway({
    supergraphSdl: composed.supergraphSdl!,
    buildService: ({ url }) =>
      new RemoteGraphQLDataSource<Context>({
        url,
        willSendRequest({ request, context }) {
          if (context.authorization)
            request.http?.headers.set('authorization', context.authorization);
        },
      }),
  });
  supergraph = new ApolloServer<Context>({ gateway });
  await supergraph.start();
});

afterAll(async () => {
  await supergraph?.stop();
  await orders?.stop();
  await gw?.close();
});

async function run(query: string, authorization: string) {
  const res = await supergraph.executeOperation({ query }, { contextValue: { authorization } });
  if (res.body.kind !== 'single') throw new Error('expected a single result');
  return res.body.singleResult;
}

describe('the gateway in a supergraph', () => {
  it('answers a profile from the gateway with its orders from the other subgraph', async () => {
    const result = await run(
      '{ profile(by: { externalId: "fed-ada" }) { externalId events { name count } orders { id totalCents } } }',
      `Bearer ${key}`,
    );
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({
      profile: {
        externalId: 'fed-ada',
        events: [{ name: 'viewed_page', count: 1 }],
        orders: [
          { id: 'o-1', totalCents: 1200 },
          { id: 'o-2', totalCents: 800 },
        ],
      },
    });
  });

  it("resolves an order's buyer through _entities with the caller's key, null when unknown", async () => {
    const result = await run(
      '{ orders { id buyer { externalId identified events { count } } } }',
      `Bearer ${key}`,
    );
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({
      orders: [
        { id: 'o-1', buyer: { externalId: 'fed-ada', identified: true, events: [{ count: 1 }] } },
        { id: 'o-2', buyer: { externalId: 'fed-ada', identified: true, events: [{ count: 1 }] } },
        { id: 'o-3', buyer: null },
      ],
    });
  });

  it("never resolves another workspace's profile, and applies the key's scopes", async () => {
    const other = await gw.newWorkspace();
    // `identified` lives in the gateway only: the buyer must come through _entities.
    const elsewhere = await run('{ orders { id buyer { identified } } }', `Bearer ${other.key}`);
    expect(elsewhere.data).toEqual({
      orders: [
        { id: 'o-1', buyer: null },
        { id: 'o-2', buyer: null },
        { id: 'o-3', buyer: null },
      ],
    });
    const trackOnly = await gw.newKey(other.workspaceId, ['users:track']);
    const refused = await run('{ orders { id buyer { identified } } }', `Bearer ${trackOnly}`);
    expect(refused.errors?.map((e) => e.extensions?.['code'])).toContain('FORBIDDEN');
  });
});

describe('_entities', () => {
  it('resolves 100 references by id and by external id in a bounded number of statements', async () => {
    const { key: own } = await gw.newWorkspace();
    const externalIds = Array.from({ length: 50 }, (_, i) => `ent-${i}`);
    await gw.gql(own, `mutation ($i: TrackUsersInput!) { trackUsers(input: $i) { message } }`, {
      i: { events: externalIds.map((externalId) => ({ externalId, ...anEvent() })) },
    });
    const ids = (
      await Promise.all(
        externalIds.map((x) =>
          gw.gql(own, `query ($x: String!) { profile(by: { externalId: $x }) { id } }`, { x }),
        ),
      )
    ).map((r) => r.data!['profile'].id as string);
    const representations = [
      ...ids.map((id) => ({ __typename: 'Profile', id })),
      ...externalIds.map((externalId) => ({ __typename: 'Profile', externalId })),
    ];
    gw.queries.length = 0;
    const res = await gw.gql(
      own,
      'query ($r: [_Any!]!) { _entities(representations: $r) { ... on Profile { id externalId } } }',
      { r: representations },
    );
    expect(codes(res)).toEqual([]);
    const entities = res.data!['_entities'] as { id: string; externalId: string }[];
    expect(entities.map((e) => e.externalId)).toEqual([...externalIds, ...externalIds]);
    expect(entities.map((e) => e.id)).toEqual([...ids, ...ids]);
    const reads = gw.queries.filter((q) => /from "profiles"/.test(q));
    expect(reads.length).toBeLessThanOrEqual(2);
  });

  it('answers null for a reference that is not a profile id, and needs a key', async () => {
    const res = await gw.gql(
      key,
      'query ($r: [_Any!]!) { _entities(representations: $r) { ... on Profile { id } } }',
      {
        r: [
          { __typename: 'Profile', id: 'not-a-uuid' },
          { __typename: 'Profile', externalId: 'nobody' },
        ],
      },
    );
    expect(res.data?.['_entities']).toEqual([null, null]);
    const keyless = await gw.gql(null, '{ _service { sdl } }');
    expect(codes(keyless)).toEqual(['UNAUTHENTICATED']);
  });

  it("answers a router's trace header without a trace: field timings and errors stay inside", async () => {
    const res = await fetch(gw.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${key}`,
        'apollo-federation-include-trace': 'ftv1',
      },
      body: JSON.stringify({ query: '{ profile(by: { externalId: "fed-ada" }) { externalId } }' }),
    });
    const body = (await res.json()) as { data?: unknown; extensions?: Record<string, unknown> };
    expect(body.data).toEqual({ profile: { externalId: 'fed-ada' } });
    expect(body.extensions?.['ftv1']).toBeUndefined();
  });
});
