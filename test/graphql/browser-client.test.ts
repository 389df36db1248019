/**
 * A frontend on another origin, in headless Chromium: a page using Apollo Client (bundled here
 * with esbuild; nothing comes from the internet) queries a profile cross-origin with a key,
 * subscribes to it over WebSocket, runs identifyUsers, and receives the merged profile into its
 * normalized cache. The same page served from an origin not in CORS_ORIGINS is refused.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { build } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { packageRoot } from '../../src/lib/package-root.js';
import { anAnonId, anEvent, anExternalId } from '../helpers/builders.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

const CHROMIUM = '/usr/bin/chromium';
// CI installs Chromium (.ci/run) and must run this test; elsewhere it needs the Debian package.
const runnable = existsSync(CHROMIUM) || process.env['CI'] === 'true';

/** The page's script: what a frontend written with Apollo Client does. */
const APP = `
import { ApolloClient, HttpLink, InMemoryCache, gql, split } from '@apollo/client/core';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { createClient } from 'graphql-ws';

const params = new URLSearchParams(location.search);
const gateway = params.get('gateway');
const headers = { authorization: 'Bearer ' + params.get('key') };
const link = split(
  ({ query }) => {
    const definition = getMainDefinition(query);
    return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
  },
  new GraphQLWsLink(
    createClient({ url: gateway.replace('http', 'ws'), connectionParams: headers, retryAttempts: 0 }),
  ),
  new HttpLink({ uri: gateway, headers }),
);
const client = new ApolloClient({ link, cache: new InMemoryCache() });
const FIELDS = 'id externalId anonIds events { name count }';

window.app = {
  read: (anonId) =>
    client
      .query({
        query: gql('query ($anonId: String!) { profile(by: { anonId: $anonId }) { ' + FIELDS + ' } }'),
        variables: { anonId },
      })
      .then((r) => ({ profile: r.data.profile }), (e) => ({ error: String(e.message) })),
  follow: (anonId) => {
    window.app.changed = new Promise((resolve) => {
      client
        .subscribe({
          query: gql('subscription ($anonId: String!) { profileChanged(by: { anonId: $anonId }) { ' + FIELDS + ' } }'),
          variables: { anonId },
        })
        .subscribe({
          next: (r) => resolve({ profile: r.data.profileChanged }),
          error: (e) => resolve({ error: String(e.message || e) }),
        });
    });
  },
  identify: (externalId, anonId) =>
    client
      .mutate({
        mutation: gql('mutation ($input: IdentifyUsersInput!) { identifyUsers(input: $input) { results { outcome } } }'),
        variables: { input: { anonIdsToIdentify: [{ externalId, anonId }], mergeBehavior: 'MERGE' } },
      })
      .then((r) => r.data.identifyUsers.results.map((x) => x.outcome)),
  cached: (id) => client.cache.extract()['Profile:' + id] ?? null,
};
`;

async function bundle(): Promise<string> {
  const out = await build({
    stdin: { contents: APP, resolveDir: packageRoot(), loader: 'js' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    minify: true,
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'silent',
  });
  return out.outputFiles[0].text;
}

/** A static server for the page: its own origin, another than the gateway's. */
async function pageServer(script: string): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    if (req.url === '/app.js') {
      res.setHeader('content-type', 'text/javascript');
      res.end(script);
      return;
    }
    res.setHeader('content-type', 'text/html');
    res.end(
      '<!doctype html><title>support tool</title><script type="module" src="/app.js"></script>',
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

let gw: TestGateway;
let browser: Browser;
let allowed: { server: Server; origin: string };
let other: { server: Server; origin: string };

beforeAll(async () => {
  if (!runnable) return;
  const script = await bundle();
  allowed = await pageServer(script);
  other = await pageServer(script);
  gw = await startTestGateway({ CORS_ORIGINS: allowed.origin });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
});
afterAll(async () => {
  await browser?.close();
  await gw?.close();
  allowed?.server.close();
  other?.server.close();
});

interface Answer {
  readonly profile?: Record<string, any>;
  readonly error?: string;
}

/** The page's `window.app`, as seen from the test. */
interface App {
  read(anonId: string): Promise<Answer>;
  follow(anonId: string): void;
  readonly changed: Promise<Answer>;
  identify(externalId: string, anonId: string): Promise<string[]>;
  cached(id: string): Record<string, unknown> | null;
}

type PageGlobal = { app: App };

function app(page: Page) {
  return {
    read: (anonId: string) =>
      page.evaluate<Answer, string>(
        (a) => (globalThis as unknown as PageGlobal).app.read(a),
        anonId,
      ),
    follow: (anonId: string) =>
      page.evaluate<void, string>(
        (a) => (globalThis as unknown as PageGlobal).app.follow(a),
        anonId,
      ),
    changed: () => page.evaluate<Answer>(() => (globalThis as unknown as PageGlobal).app.changed),
    identify: (externalId: string, anonId: string) =>
      page.evaluate<string[], [string, string]>(
        ([x, a]) => (globalThis as unknown as PageGlobal).app.identify(x, a),
        [externalId, anonId],
      ),
    cached: (id: string) =>
      page.evaluate<Record<string, unknown> | null, string>(
        (i) => (globalThis as unknown as PageGlobal).app.cached(i),
        id,
      ),
  };
}

async function openApp(origin: string, key: string): Promise<Page> {
  const page = await browser.newPage();
  // Nothing from the internet: only the page's server and the gateway answer.
  const hosts = new Set([new URL(origin).host, new URL(gw.url).host]);
  await page.route('**/*', (route) =>
    hosts.has(new URL(route.request().url()).host) ? route.continue() : route.abort(),
  );
  const query = new URLSearchParams({ gateway: gw.url, key });
  await page.goto(`${origin}/?${query.toString()}`, { waitUntil: 'load' });
  await page.waitForFunction(() => 'app' in globalThis);
  return page;
}

describe.runIf(runnable)('Apollo Client in a browser on another origin', () => {
  it('queries cross-origin, receives the merge over the socket, and caches the merged profile', async () => {
    const { key, workspaceId } = await gw.newWorkspace();
    const anonId = anAnonId();
    const externalId = anExternalId();
    const track = `mutation ($i: TrackUsersInput!) { trackUsers(input: $i) { message } }`;
    await gw.gql(key, track, { i: { events: [{ anonId, ...anEvent() }] } });
    await gw.gql(key, track, { i: { events: [{ externalId, ...anEvent() }] } });
    const page = await openApp(allowed.origin, key);
    const front = app(page);

    const read = await front.read(anonId);
    expect(read.error).toBeUndefined();
    expect(read.profile).toMatchObject({ externalId: null, anonIds: [anonId] });

    await front.follow(anonId);
    for (let i = 0; gw.gateway.services.live.listenerCount(workspaceId) < 1; i++) {
      if (i === 250) throw new Error('the page never subscribed');
      await new Promise((r) => setTimeout(r, 20));
    }
    const outcomes = await front.identify(externalId, anonId);
    expect(outcomes).toEqual(['MERGED']);
    const changed = await front.changed();
    expect(changed.error).toBeUndefined();
    expect(changed.profile).toMatchObject({ externalId, anonIds: [anonId] });
    expect(changed.profile!['events']).toMatchObject([{ name: anEvent().name, count: 2 }]);
    // Normalized by id: the cache holds the survivor as the event delivered it.
    const cached = await front.cached(String(changed.profile!['id']));
    expect(cached).toMatchObject({ __typename: 'Profile', externalId, anonIds: [anonId] });
    await page.close();
  });

  it('is refused from an origin that is not allowed: no answer reaches the page, no socket opens', async () => {
    const { key, workspaceId } = await gw.newWorkspace();
    const anonId = anAnonId();
    await gw.gql(key, `mutation ($i: TrackUsersInput!) { trackUsers(input: $i) { message } }`, {
      i: { events: [{ anonId, ...anEvent() }] },
    });
    const page = await openApp(other.origin, key);
    const front = app(page);
    const read = await front.read(anonId);
    expect(read.profile).toBeUndefined();
    expect(read.error).toMatch(/Failed to fetch/);
    await front.follow(anonId);
    const changed = await front.changed();
    expect(changed.profile).toBeUndefined();
    expect(gw.gateway.services.live.listenerCount(workspaceId)).toBe(0);
    await page.close();
  });
});
