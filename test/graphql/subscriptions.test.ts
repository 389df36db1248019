/**
 * Subscriptions over WebSocket (graphql-ws) against a real gateway: keys and scopes at connect,
 * profileChanged through tracking, aliasing, identification, merging, undoing and forgetting,
 * mergeRecorded within the caller's workspace only, the limits, and (on PostgreSQL) changes made by
 * another gateway process on the same database.
 */
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

import { anAnonId, anExternalId } from '../helpers/builders.js';
import { codes, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { onPostgres } from '../helpers/database.js';

const TRACK = `mutation ($input: TrackUsersInput!) { trackUsers(input: $input) { eventsProcessed } }`;
const IDENTIFY = `mutation ($input: IdentifyUsersInput!) {
  identifyUsers(input: $input) { results { outcome } } }`;
const FORGET = `mutation ($input: ForgetUsersInput!) { forgetUsers(input: $input) { results { outcome } } }`;
const PROFILE_CHANGED = `subscription ($by: ProfileLookup!) {
  profileChanged(by: $by) { id externalId anonIds events { name count } } }`;
const MERGE_RECORDED = `subscription { mergeRecorded { id survivor { externalId } } }`;

const event = (ref: Record<string, unknown>, name = 'viewed') => ({
  ...ref,
  name,
  time: new Date(Date.now() - 1000).toISOString(),
});

/** A subscription's events as they come, and how it ended. */
interface Stream {
  readonly events: Record<string, any>[];
  next(): Promise<Record<string, any>>;
  readonly ended: Promise<{ error?: unknown }>;
  stop(): void;
}

function open(gw: TestGateway, key: string | null, options: { lazy?: boolean } = {}): Client {
  return createClient({
    url: gw.url.replace('http', 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: key === null ? {} : { authorization: `Bearer ${key}` },
    lazy: options.lazy ?? true,
    retryAttempts: 0,
    // The close codes are what these tests read: not worth a console line.
    onNonLazyError: () => {},
  });
}

function subscribe(client: Client, query: string, variables: Record<string, unknown> = {}): Stream {
  const events: Record<string, any>[] = [];
  const waiters: ((e: Record<string, any>) => void)[] = [];
  let read = 0;
  let finish: (end: { error?: unknown }) => void = () => {};
  const ended = new Promise<{ error?: unknown }>((resolve) => (finish = resolve));
  const stop = client.subscribe(
    { query, variables },
    {
      next: (value) => {
        events.push(value as Record<string, any>);
        waiters.shift()?.(value as Record<string, any>);
      },
      error: (error) => finish({ error }),
      complete: () => finish({}),
    },
  );
  return {
    events,
    ended,
    stop,
    next: () =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no event within 5 s')), 5000);
        const take = () => {
          clearTimeout(timer);
          resolve(events[read++]);
        };
        if (events.length > read) take();
        else waiters.push(take);
      }),
  };
}

/**
 * Resolves once `count` subscriptions of the workspace listen for its changes on `gw` (graphql-ws
 * acknowledges no subscription: the gateway's own count says when they are registered).
 */
async function listening(gw: TestGateway, workspaceId: string, count = 1): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if (gw.gateway.services.live.listenerCount(workspaceId) === count) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${count} subscription(s) never listened`);
}

function closeCode(client: Client): Promise<number> {
  return new Promise((resolve) => {
    client.on('closed', (event) => resolve((event as { code: number }).code));
  });
}

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ SUBSCRIPTIONS_PER_CONNECTION: '3', WS_INIT_TIMEOUT_MS: '300' });
});
afterAll(async () => {
  await gw?.close();
});

describe('connecting', () => {
  it('closes with 4401 without a key or with a bad one, and with 4403 without profiles:read', async () => {
    for (const key of [null, 'igw_not-a-key']) {
      const client = open(gw, key, { lazy: false });
      expect(await closeCode(client)).toBe(4401);
      await client.dispose();
    }
    const { workspaceId } = await gw.newWorkspace();
    const trackOnly = await gw.newKey(workspaceId, ['users:track']);
    const client = open(gw, trackOnly, { lazy: false });
    expect(await closeCode(client)).toBe(4403);
    await client.dispose();
  });

  it('closes with 4408 a socket that never initialises', async () => {
    const socket = new WebSocket(gw.url.replace('http', 'ws'), 'graphql-transport-ws');
    const code = await new Promise<number>((resolve) => socket.on('close', (c) => resolve(c)));
    expect(code).toBe(4408);
  });

  it("accepts a browser's socket from the gateway's own origin, and refuses another origin", async () => {
    const url = gw.url.replace('http', 'ws');
    const attempt = (origin: string) =>
      new Promise<string>((resolve) => {
        const socket = new WebSocket(url, 'graphql-transport-ws', { origin });
        socket.on('open', () => {
          socket.close();
          resolve('open');
        });
        socket.on('unexpected-response', (_req, res) => resolve(`HTTP ${res.statusCode}`));
        socket.on('error', () => {});
      });
    expect(await attempt(new URL(gw.url).origin)).toBe('open');
    expect(await attempt('http://evil.example')).toBe('HTTP 401');
  });

  it('runs only subscriptions: a query over the socket is refused', async () => {
    const { key } = await gw.newWorkspace();
    const client = open(gw, key);
    const stream = subscribe(client, '{ __typename }');
    const { error } = await stream.ended;
    expect((error as { extensions?: { code?: string } }[])[0]?.extensions?.code).toBe(
      'BAD_REQUEST',
    );
    await client.dispose();
  });
});

describe('profileChanged', () => {
  it('sends the profile after each committed change to that person, and only to them', async () => {
    const { key, workspaceId } = await gw.newWorkspace();
    const externalId = anExternalId();
    const other = anExternalId();
    await gw.gql(key, TRACK, { input: { events: [event({ externalId })] } });
    const client = open(gw, key);
    const stream = subscribe(client, PROFILE_CHANGED, { by: { externalId } });
    await listening(gw, workspaceId);
    await gw.gql(key, TRACK, { input: { events: [event({ externalId: other })] } });
    await gw.gql(key, TRACK, { input: { events: [event({ externalId })] } });
    const first = await stream.next();
    expect(first.data.profileChanged).toMatchObject({
      externalId,
      events: [{ name: 'viewed', count: 2 }],
    });
    await gw.gql(key, TRACK, { input: { events: [event({ externalId }, 'clicked')] } });
    const second = await stream.next();
    expect(second.data.profileChanged.events).toEqual([
      { name: 'clicked', count: 1 },
      { name: 'viewed', count: 2 },
    ]);
    expect(stream.events).toHaveLength(2);
    // Unsubscribing stops listening at once, without waiting for another change.
    stream.stop();
    await listening(gw, workspaceId, 0);
    await client.dispose();
  });

  it('stops listening when the socket closes', async () => {
    const { key, workspaceId } = await gw.newWorkspace();
    const client = open(gw, key);
    subscribe(client, MERGE_RECORDED);
    subscribe(client, MERGE_RECORDED);
    await listening(gw, workspaceId, 2);
    await client.dispose();
    await listening(gw, workspaceId, 0);
  });

  it('follows an anonymous person into the profile they are merged into, then ends when forgotten', async () => {
    const { key, workspaceId } = await gw.newWorkspace();
    const anonId = anAnonId();
    const externalId = anExternalId();
    await gw.gql(key, TRACK, { input: { events: [event({ anonId })] } });
    await gw.gql(key, TRACK, { input: { events: [event({ externalId })] } });
    const client = open(gw, key);
    const stream = subscribe(client, PROFILE_CHANGED, { by: { anonId } });
    await listening(gw, workspaceId);
    const identified = await gw.gql(key, IDENTIFY, {
      input: { anonIdsToIdentify: [{ externalId, anonId }], mergeBehavior: 'MERGE' },
    });
    expect(identified.data?.identifyUsers.results).toEqual([{ outcome: 'MERGED' }]);
    const merged = (await stream.next()).data.profileChanged;
    expect(merged).toMatchObject({ externalId, anonIds: [anonId] });
    expect(merged.events).toEqual([{ name: 'viewed', count: 2 }]);
    // From here on, changes named by the external id are the same person's.
    await gw.gql(key, TRACK, { input: { events: [event({ externalId }, 'paid')] } });
    expect((await stream.next()).data.profileChanged.id).toBe(merged.id);
    const forgotten = await gw.gql(key, FORGET, { input: { users: [{ externalId }] } });
    expect(forgotten.data?.forgetUsers.results).toEqual([{ outcome: 'FORGOTTEN' }]);
    expect(await stream.ended).toEqual({});
    await client.dispose();
  });

  it('sends the profile after createAliases and after undoMerge', async () => {
    const { key, workspaceId } = await gw.newWorkspace();
    const anonId = anAnonId();
    const externalId = anExternalId();
    await gw.gql(key, TRACK, { input: { events: [event({ anonId }), event({ externalId })] } });
    const identified = await gw.gql(
      key,
      `mutation ($input: IdentifyUsersInput!) { identifyUsers(input: $input) { results { merge { id } } } }`,
      { input: { anonIdsToIdentify: [{ externalId, anonId }], mergeBehavior: 'MERGE' } },
    );
    const mergeId = identified.data?.identifyUsers.results[0].merge.id as string;
    const client = open(gw, key);
    const stream = subscribe(client, PROFILE_CHANGED, { by: { externalId } });
    await listening(gw, workspaceId);
    const aliased = await gw.gql(
      key,
      `mutation ($input: CreateAliasesInput!) { createAliases(input: $input) { aliasesProcessed } }`,
      { input: { userAliases: [{ aliasLabel: 'crm_id', aliasName: 'C-1', externalId }] } },
    );
    expect(aliased.data?.createAliases.aliasesProcessed).toBe(1);
    expect((await stream.next()).data.profileChanged).toMatchObject({
      externalId,
      anonIds: [anonId],
    });
    const undone = await gw.gql(key, `mutation ($id: ID!) { undoMerge(id: $id) { id } }`, {
      id: mergeId,
    });
    expect(undone.data?.undoMerge.id).toBe(mergeId);
    // The survivor gave the anonymous id back.
    expect((await stream.next()).data.profileChanged).toMatchObject({ externalId, anonIds: [] });
    await client.dispose();
  });

  it('answers NOT_FOUND for a person nobody holds, and BAD_USER_INPUT for a lookup with two keys', async () => {
    const { key } = await gw.newWorkspace();
    const client = open(gw, key);
    // Refused when subscribing: graphql-ws sends the errors as the one result, then completes.
    const unknown = subscribe(client, PROFILE_CHANGED, { by: { externalId: anExternalId() } });
    expect(await unknown.ended).toEqual({});
    expect(unknown.events.map((e) => e.errors?.[0]?.extensions?.code)).toEqual(['NOT_FOUND']);
    const two = subscribe(client, PROFILE_CHANGED, {
      by: { externalId: anExternalId(), anonId: anAnonId() },
    });
    expect(await two.ended).toEqual({});
    expect(two.events.map((e) => e.errors?.[0]?.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    await client.dispose();
  });
});

describe('mergeRecorded', () => {
  it("sends the merges of the caller's workspace, never another's", async () => {
    const mine = await gw.newWorkspace();
    const theirs = await gw.newWorkspace();
    const client = open(gw, mine.key);
    const stream = subscribe(client, MERGE_RECORDED);
    await listening(gw, mine.workspaceId);
    const merge = async (key: string) => {
      const anonId = anAnonId();
      const externalId = anExternalId();
      await gw.gql(key, TRACK, { input: { events: [event({ anonId }), event({ externalId })] } });
      await gw.gql(key, IDENTIFY, {
        input: { anonIdsToIdentify: [{ externalId, anonId }], mergeBehavior: 'MERGE' },
      });
      return externalId;
    };
    await merge(theirs.key);
    const externalId = await merge(mine.key);
    const got = (await stream.next()).data.mergeRecorded;
    expect(got.survivor).toEqual({ externalId });
    expect(stream.events).toHaveLength(1);
    await client.dispose();
  });
});

describe('limits', () => {
  it('refuses a subscription beyond the per-connection limit, and counts it in /metrics', async () => {
    const { key, workspaceId } = await gw.newWorkspace();
    const client = open(gw, key);
    const streams = Array.from({ length: 3 }, () => subscribe(client, MERGE_RECORDED));
    await listening(gw, workspaceId, 3);
    const extra = subscribe(client, MERGE_RECORDED);
    const { error } = await extra.ended;
    expect((error as { extensions?: { code?: string; reason?: string } }[])[0]?.extensions).toEqual(
      { code: 'RATE_LIMITED', reason: 'PER_CONNECTION' },
    );
    // Ending one frees its place.
    streams[0].stop();
    await listening(gw, workspaceId, 2);
    const again = subscribe(client, MERGE_RECORDED);
    await listening(gw, workspaceId, 3);
    expect(await Promise.race([again.ended, Promise.resolve('running')])).toBe('running');
    const metrics = await (await fetch(gw.url.replace('/graphql', '/metrics'))).text();
    expect(metrics).toMatch(/igw_subscriptions_refused_total\{reason="PER_CONNECTION"\} [1-9]/);
    expect(metrics).toMatch(/igw_subscriptions\{field="mergeRecorded"\} [1-9]/);
    await client.dispose();
  });

  it('refuses a document deeper than the query depth limit', async () => {
    const { key } = await gw.newWorkspace();
    const client = open(gw, key);
    const deep = `subscription { mergeRecorded { ${'survivor { merges { '.repeat(8)}id${' } }'.repeat(8)} } }`;
    const { error } = await subscribe(client, deep).ended;
    expect((error as { extensions?: { code?: string } }[])[0]?.extensions?.code).toBe(
      'BAD_USER_INPUT',
    );
    await client.dispose();
  });
});

describe.runIf(onPostgres)('between gateway processes', () => {
  it('sends a change committed by another gateway on the same database', async () => {
    const other = await startTestGateway();
    try {
      const { key, workspaceId } = await gw.newWorkspace();
      const externalId = anExternalId();
      await gw.gql(key, TRACK, { input: { events: [event({ externalId })] } });
      const client = open(gw, key);
      const stream = subscribe(client, PROFILE_CHANGED, { by: { externalId } });
      await listening(gw, workspaceId);
      const res = await other.gql(key, TRACK, { input: { events: [event({ externalId })] } });
      expect(codes(res)).toEqual([]);
      const got = await stream.next();
      expect(got.data.profileChanged.events).toEqual([{ name: 'viewed', count: 2 }]);
      await client.dispose();
    } finally {
      await other.close();
    }
  });
});
