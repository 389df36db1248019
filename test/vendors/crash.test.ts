import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { packageRoot } from '../../src/lib/package-root.js';
import { anAnonId, anExternalId } from '../helpers/builders.js';
import { startBrazeStub, startMixpanelStub, type VendorStub } from '../helpers/vendor-stubs.js';

const KEY = 'igw_crash-test-bootstrap-key-0123456789';
const children: ChildProcess[] = [];
const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  while (cleanup.length) await cleanup.pop()!();
});

/** The gateway as `npm start` runs it, on the embedded database in `dataDir`. */
async function startGateway(
  dataDir: string,
  braze: VendorStub,
  mixpanel: VendorStub,
  extra: Record<string, string> = {},
) {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATA_DIR: dataDir,
    PORT: '0', // a free port, read back from the log line
    LOG_LEVEL: 'info',
    BOOTSTRAP_API_KEY: KEY,
    BRAZE_API_KEY: 'braze-key',
    BRAZE_REST_ENDPOINT: braze.url,
    MIXPANEL_TOKEN: 'mp-token',
    MIXPANEL_API_HOST: mixpanel.url,
    OUTBOX_POLL_MS: '50',
    OUTBOX_LEASE_MS: '1500',
    OUTBOX_BACKOFF_BASE_MS: '100',
    ...extra,
  };
  delete env['DATABASE_URL'];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: packageRoot(),
    env,
  });
  children.push(child);
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  for (let i = 0; i < 600 && !output.includes('listening'); i++)
    await new Promise((r) => setTimeout(r, 100));
  expect(output).toContain('listening');
  const port = Number(/"url":"http:\/\/[^"]*:(\d+)\/graphql"/.exec(output)?.[1]);
  expect(port).toBeGreaterThan(0);
  return { child, exited, port };
}

async function gql(port: number, query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data?: any; errors?: unknown[] };
}

async function waitFor(check: () => Promise<boolean> | boolean, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a gateway killed while vendors fail', () => {
  it('delivers every committed merge after a restart, duplicates carrying the same dedupe key', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'igw-crash-'));
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    const braze = await startBrazeStub('braze-key');
    const mixpanel = await startMixpanelStub('mp-token');
    cleanup.push(
      () => braze.close(),
      () => mixpanel.close(),
    );
    braze.fallback = { kind: 'status', status: 503 };
    mixpanel.fallback = { kind: 'status', status: 503 };
    const first = await startGateway(dataDir, braze, mixpanel);
    const port = first.port;
    const pairs = Array.from({ length: 4 }, () => ({
      externalId: anExternalId(),
      anonId: anAnonId(),
    }));
    const time = new Date(Date.now() - 1000).toISOString();
    await gql(port, `mutation ($i: TrackUsersInput!) { trackUsers(input: $i) { message } }`, {
      i: {
        events: pairs.flatMap((p) => [
          { externalId: p.externalId, name: 'e', time },
          { anonId: p.anonId, name: 'e', time },
        ]),
      },
    });
    const merged = await gql(
      port,
      `mutation ($i: IdentifyUsersInput!) { identifyUsers(input: $i) { results { outcome } } }`,
      {
        i: { anonIdsToIdentify: pairs },
      },
    );
    expect(merged.data?.identifyUsers.results.map((r: { outcome: string }) => r.outcome)).toEqual(
      Array(4).fill('MERGED'),
    );

    // The vendors fail; once both have been tried, the process dies without a chance to clean up.
    await waitFor(() => braze.requests.length > 0 && mixpanel.requests.length > 0);
    first.child.kill('SIGKILL');
    await first.exited;

    braze.fallback = { kind: 'ok' };
    mixpanel.fallback = { kind: 'ok' };
    const second = await startGateway(dataDir, braze, mixpanel);
    const delivered = `{ deliveries(status: DELIVERED) { totalCount } all: deliveries { totalCount } }`;
    await waitFor(
      async () => (await gql(second.port, delivered)).data?.deliveries.totalCount === 8,
    );
    expect((await gql(second.port, delivered)).data?.all.totalCount).toBe(8);

    // Every merge reached both vendors in a request they accepted.
    const ok = (stub: VendorStub) => stub.requests.filter((r) => r.answer === 'ok');
    for (const { externalId, anonId } of pairs) {
      expect(ok(braze).some((r) => r.body.includes(anonId) && r.body.includes(externalId))).toBe(
        true,
      );
      expect(ok(mixpanel).some((r) => r.body.includes(anonId))).toBe(true);
    }
    // Whatever was sent more than once was sent with the same $insert_id.
    const insertIds = new Map<string, Set<string>>();
    for (const r of mixpanel.requests) {
      for (const e of r.payload as { properties: { $anon_id: string; $insert_id: string } }[]) {
        insertIds.set(
          e.properties.$anon_id,
          (insertIds.get(e.properties.$anon_id) ?? new Set()).add(e.properties.$insert_id),
        );
      }
    }
    expect([...insertIds.values()].every((ids) => ids.size === 1)).toBe(true);
    expect(mixpanel.requests.every((r) => r.violations.length === 0)).toBe(true);
    expect(braze.requests.every((r) => r.violations.length === 0)).toBe(true);

    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 120_000);

  it('delivers the vendor deletions of a committed erasure after a crash', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'igw-crash-'));
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    const braze = await startBrazeStub('braze-key');
    const mixpanel = await startMixpanelStub('mp-token', 'gdpr-oauth');
    cleanup.push(
      () => braze.close(),
      () => mixpanel.close(),
    );
    // The default workspace's GDPR settings come from the environment.
    const gdpr = { MIXPANEL_GDPR_TOKEN: 'gdpr-oauth', MIXPANEL_GDPR_API_HOST: mixpanel.url };
    const first = await startGateway(dataDir, braze, mixpanel, gdpr);
    const externalId = anExternalId();
    const anonId = anAnonId();
    const time = new Date(Date.now() - 1000).toISOString();
    await gql(first.port, `mutation ($i: TrackUsersInput!) { trackUsers(input: $i) { message } }`, {
      i: {
        events: [
          { externalId, name: 'e', time },
          { anonId, name: 'e', time },
        ],
      },
    });
    await gql(
      first.port,
      `mutation ($i: IdentifyUsersInput!) { identifyUsers(input: $i) { results { outcome } } }`,
      { i: { anonIdsToIdentify: [{ externalId, anonId }] } },
    );
    await waitFor(() => braze.requests.length > 0 && mixpanel.requests.length > 0);
    // From now on both vendors fail; the erasure commits, its deliveries are tried, the process dies.
    braze.fallback = { kind: 'status', status: 503 };
    mixpanel.fallback = { kind: 'status', status: 503 };
    const seen = { braze: braze.requests.length, mixpanel: mixpanel.requests.length };
    const forgotten = await gql(
      first.port,
      `mutation ($i: ForgetUsersInput!) { forgetUsers(input: $i) { results { outcome erasure { id status } } } }`,
      { i: { users: [{ externalId }] } },
    );
    const [item] = forgotten.data?.forgetUsers.results ?? [];
    expect(item).toMatchObject({ outcome: 'FORGOTTEN', erasure: { status: 'PENDING' } });
    await waitFor(
      () => braze.requests.length > seen.braze && mixpanel.requests.length > seen.mixpanel,
    );
    first.child.kill('SIGKILL');
    await first.exited;

    braze.fallback = { kind: 'ok' };
    mixpanel.fallback = { kind: 'ok' };
    const second = await startGateway(dataDir, braze, mixpanel, gdpr);
    const status = `query ($id: ID!) { erasure(id: $id) { status deliveries { status } } }`;
    await waitFor(
      async () =>
        (await gql(second.port, status, { id: item.erasure.id })).data?.erasure.status ===
        'COMPLETED',
    );
    const accepted = [...braze.requests, ...mixpanel.requests].filter(
      (r) => r.answer === 'ok' && r.body.includes(externalId),
    );
    expect(accepted.map((r) => r.path)).toEqual(
      expect.arrayContaining(['/users/delete', '/engage', '/api/app/data-deletions/v3.0/']),
    );
    expect([...braze.requests, ...mixpanel.requests].flatMap((r) => r.violations)).toEqual([]);

    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 120_000);
});
