import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { outboxMessages } from '../../src/outbox/outbox.sql.js';
import { anAnonId, anEvent, anExternalId } from '../helpers/builders.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startBrazeStub, type VendorStub } from '../helpers/vendor-stubs.js';

let braze: VendorStub;
beforeAll(async () => {
  braze = await startBrazeStub('bk');
});
afterAll(async () => {
  await braze?.close();
});

async function mergeVia(gw: TestGateway, key: string, externalId = anExternalId()) {
  const anonId = anAnonId();
  await gw.gql(key, `mutation ($i: TrackUsersInput!) { trackUsers(input: $i) { message } }`, {
    i: {
      events: [
        { externalId, ...anEvent() },
        { anonId, ...anEvent() },
      ],
    },
  });
  return gw.gql(
    key,
    `mutation ($i: IdentifyUsersInput!) { identifyUsers(input: $i) { results { outcome } } }`,
    {
      i: { anonIdsToIdentify: [{ externalId, anonId }] },
    },
  );
}

describe('/metrics', () => {
  it('reports requests, identify outcomes and the outbox without a key, in Prometheus text', async () => {
    const gw = await startTestGateway();
    try {
      const { key } = await gw.newWorkspace({ braze: { apiKey: 'bk', restEndpoint: braze.url } });
      await mergeVia(gw, key);
      await gw.gql(key, `{ profiles { totalCount } }`);
      await gw.gql('igw_wrong', `{ profiles { totalCount } }`);
      const res = await fetch(gw.url.replace('/graphql', '/metrics'));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const text = await res.text();
      expect(text).toMatch(/igw_graphql_requests_total\{operation="profiles",outcome="ok"\} 1/);
      expect(text).toMatch(
        /igw_graphql_requests_total\{operation="unknown",outcome="UNAUTHENTICATED"\} 1/,
      );
      expect(text).toMatch(
        /igw_graphql_request_duration_seconds_count\{operation="identifyUsers"\} 1/,
      );
      expect(text).toMatch(/igw_identify_results_total\{outcome="MERGED"\} 1/);
      expect(text).toMatch(/igw_outbox_depth\{vendor="BRAZE",status="PENDING"\} [1-9]/);
      expect(text).toMatch(/igw_outbox_oldest_age_seconds\{vendor="BRAZE"\} \d/);
      expect(text).not.toContain(key);
    } finally {
      await gw.close();
    }
  });
});

describe('logs', () => {
  it('are JSON lines with a request id, and never carry a key, a vendor secret or a full email', async () => {
    const lines: string[] = [];
    const gw = await startTestGateway({}, { logLines: lines });
    try {
      const { workspaceId, key } = await gw.newWorkspace({
        braze: { apiKey: 'braze-secret-value', restEndpoint: braze.url },
      });
      const root = await gw.newKey(workspaceId, ['root', 'admin']);
      const email = `${anExternalId()}@example.com`;
      await gw.gql(key, `mutation ($i: TrackUsersInput!) { trackUsers(input: $i) { message } }`, {
        i: { attributes: [{ externalId: anExternalId(), email }] },
      });
      await gw.gql(
        key,
        `mutation ($i: IdentifyUsersInput!) { identifyUsers(input: $i) { results { outcome } } }`,
        {
          i: {
            emailsToIdentify: [
              { externalId: anExternalId(), email, prioritization: ['UNIDENTIFIED'] },
            ],
          },
        },
      );
      await gw.gql(
        root,
        `mutation ($i: CreateWorkspaceInput!) { createWorkspace(input: $i) { apiKey { key } } }`,
        {
          i: { name: 'x', braze: { apiKey: 'another-braze-secret', restEndpoint: braze.url } },
        },
      );
      await gw.gql('igw_not-a-key', `{ profiles { totalCount } }`);
      const requests = lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l['msg'] === 'graphql request');
      expect(requests.length).toBeGreaterThanOrEqual(3);
      expect(
        requests.every(
          (l) => typeof l['requestId'] === 'string' && typeof l['operation'] === 'string',
        ),
      ).toBe(true);
      const all = lines.join('\n');
      for (const secret of [
        key,
        root,
        'braze-secret-value',
        'another-braze-secret',
        email,
        'igw_not-a-key',
      ]) {
        expect(all).not.toContain(secret);
      }
    } finally {
      await gw.close();
    }
  });
});

describe('request lines', () => {
  it('are written at info for mutations and failures, at debug for queries answered without error', async () => {
    const lines: string[] = [];
    const gw = await startTestGateway({}, { logLines: lines, logLevel: 'info' });
    try {
      const { key } = await gw.newWorkspace();
      const externalId = anExternalId();
      const track = await gw.gql(
        key,
        `mutation ($i: TrackUsersInput!) { trackUsers(input: $i) { eventsProcessed } }`,
        { i: { events: [{ externalId, ...anEvent() }] } },
      );
      expect(track.errors).toBeUndefined();
      const read = await gw.gql(
        key,
        `query ($x: String!) { profile(by: { externalId: $x }) { id } }`,
        {
          x: externalId,
        },
      );
      expect(read.data?.profile).not.toBeNull();
      const bad = await gw.gql(
        key,
        `{ profile(by: { externalId: "a", email: "b@example.com" }) { id } }`,
      );
      expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      const requests = lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l['msg'] === 'graphql request');
      expect(requests.map((l) => [l['level'], l['operation'], l['outcome']])).toEqual([
        [30, 'trackUsers', 'ok'],
        [30, 'profile', 'BAD_USER_INPUT'],
      ]);
    } finally {
      await gw.close();
    }
    // At debug, the query's line is there too.
    const all: string[] = [];
    const verbose = await startTestGateway({}, { logLines: all, logLevel: 'debug' });
    try {
      const { key } = await verbose.newWorkspace();
      await verbose.gql(key, `{ profiles(first: 1) { totalCount } }`);
      const requests = all
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l['msg'] === 'graphql request');
      expect(requests.map((l) => [l['level'], l['operation'], l['outcome']])).toEqual([
        [20, 'profiles', 'ok'],
      ]);
    } finally {
      await verbose.close();
    }
  });
});

describe('graceful shutdown', () => {
  it('finishes requests in flight and releases the rows its dispatcher holds', async () => {
    const gw = await startTestGateway({
      OUTBOX_DISPATCHER: 'true',
      OUTBOX_POLL_MS: '20',
      VENDOR_TIMEOUT_MS: '60000',
    });
    const { key, workspaceId } = await gw.newWorkspace({
      braze: { apiKey: 'bk', restEndpoint: braze.url },
    });
    const externalId = anExternalId();
    braze.queue(externalId, { kind: 'hang' });
    await mergeVia(gw, key, externalId);
    const rows = () =>
      gw.database.db
        .select()
        .from(outboxMessages)
        .where(eq(outboxMessages.workspaceId, workspaceId));
    for (let i = 0; i < 200 && !braze.requests.some((r) => r.body.includes(externalId)); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await rows())[0]).toMatchObject({ attempts: 1 });
    expect((await rows())[0]?.claimedBy).toBeTruthy();

    // A request arrives just before the stop; it is answered in full.
    const other = anExternalId();
    const anonId = anAnonId();
    await gw.gql(key, `mutation ($i: TrackUsersInput!) { trackUsers(input: $i) { message } }`, {
      i: {
        events: [
          { externalId: other, ...anEvent() },
          { anonId, ...anEvent() },
        ],
      },
    });
    gw.queries.length = 0;
    const inFlight = gw.gql(
      key,
      `mutation ($i: IdentifyUsersInput!) { identifyUsers(input: $i) { results { outcome } } }`,
      {
        i: { anonIdsToIdentify: [{ externalId: other, anonId }] },
      },
    );
    // Stop once the request is being served: its first statement (the identifier locks) went out.
    while (!gw.queries.some((q) => q.includes('pg_advisory_xact_lock('))) {
      await new Promise((r) => setTimeout(r, 2));
    }
    await gw.gateway.stop();
    expect((await inFlight).data?.identifyUsers.results[0].outcome).toBe('MERGED');

    const [held] = (await rows()).filter(
      (r) => 'externalId' in r.payload && r.payload.externalId === externalId,
    );
    expect(held).toMatchObject({
      status: 'PENDING',
      claimedBy: null,
      claimedUntil: null,
      attempts: 0,
    });
    braze.releaseHanging();
    await gw.database.close();
  });
});
