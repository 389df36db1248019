import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { anAnonId, anEvent, anExternalId } from '../helpers/builders.js';
import { codes, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startBrazeStub, startMixpanelStub, type VendorStub } from '../helpers/vendor-stubs.js';

let gw: TestGateway;
let braze: VendorStub;
let mixpanel: VendorStub;
beforeAll(async () => {
  braze = await startBrazeStub('bk');
  mixpanel = await startMixpanelStub('mt');
  // The gateway's own dispatcher runs here, as in production.
  gw = await startTestGateway({
    OUTBOX_DISPATCHER: 'true',
    OUTBOX_POLL_MS: '20',
    VENDOR_TIMEOUT_MS: '60000',
  });
});
afterAll(async () => {
  braze?.releaseHanging();
  await gw?.close();
  await braze?.close();
  await mixpanel?.close();
});

const vendors = () => ({
  braze: { apiKey: 'bk', restEndpoint: braze.url },
  mixpanel: {
    token: 'mt',
    apiHost: mixpanel.url,
    idMerge: 'ORIGINAL' as const,
    serviceAccount: null,
    projectId: null,
  },
});

const IDENTIFY = `mutation ($input: IdentifyUsersInput!) {
  identifyUsers(input: $input) {
    results { outcome deliveries { id vendor status } merge { id deliveries { id vendor status attempts lastError deliveredAt createdAt dedupeKey type } } }
  }
}`;
const LIST = `query ($first: Int, $after: String, $vendor: Vendor, $status: DeliveryStatus) {
  deliveries(first: $first, after: $after, vendor: $vendor, status: $status) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id vendor status attempts lastError } }
  }
}`;
const RETRY = `mutation ($ids: [ID!]!) { retryDeliveries(ids: $ids) { id status attempts } }`;

async function merge(key: string, externalId = anExternalId()) {
  const anonId = anAnonId();
  await gw.gql(key, `mutation ($i: TrackUsersInput!) { trackUsers(input: $i) { message } }`, {
    i: {
      events: [
        { externalId, ...anEvent() },
        { anonId, ...anEvent() },
      ],
    },
  });
  const res = await gw.gql(key, IDENTIFY, {
    input: { anonIdsToIdentify: [{ externalId, anonId }] },
  });
  return { externalId, anonId, result: res.data!.identifyUsers.results[0] };
}

async function eventually<T>(
  read: () => Promise<T>,
  ok: (value: T) => boolean,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`not reached: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 30));
  }
}

describe('deliveries over GraphQL', () => {
  it('shows each merge’s deliveries on the result and on the merge, and they reach DELIVERED', async () => {
    const { key } = await gw.newWorkspace(vendors());
    const { result } = await merge(key);
    expect(result.outcome).toBe('MERGED');
    expect(result.deliveries.map((d: { vendor: string }) => d.vendor).sort()).toEqual([
      'BRAZE',
      'MIXPANEL',
    ]);
    const mergeId = result.merge.id as string;
    const q = `query { merges { edges { node { id deliveries { vendor status attempts deliveredAt dedupeKey } } } } }`;
    const delivered = await eventually(
      () => gw.gql(key, q),
      (r) =>
        r.data?.merges.edges[0]?.node.deliveries.every(
          (d: { status: string }) => d.status === 'DELIVERED',
        ),
    );
    const node = delivered.data!.merges.edges[0].node;
    expect(node.id).toBe(mergeId);
    expect(
      node.deliveries.every(
        (d: any) => d.attempts === 1 && d.deliveredAt && d.dedupeKey.startsWith(mergeId),
      ),
    ).toBe(true);
  });

  it('lists deliveries newest first, filters by vendor and status, and pages with cursors', async () => {
    const { key } = await gw.newWorkspace(vendors());
    for (let i = 0; i < 3; i++) await merge(key);
    const all = await gw.gql(key, LIST, { first: 4 });
    expect(all.data?.deliveries.totalCount).toBe(6);
    const ids = all.data!.deliveries.edges.map((e: any) => Number(e.node.id));
    expect([...ids].sort((a, b) => b - a)).toEqual(ids);
    const rest = await gw.gql(key, LIST, {
      first: 4,
      after: all.data?.deliveries.pageInfo.endCursor,
    });
    expect(rest.data?.deliveries.edges).toHaveLength(2);
    expect(rest.data?.deliveries.pageInfo).toMatchObject({
      hasNextPage: false,
      hasPreviousPage: true,
      startCursor: rest.data?.deliveries.edges[0].cursor,
    });
    expect(all.data?.deliveries.pageInfo).toMatchObject({
      hasNextPage: true,
      hasPreviousPage: false,
      startCursor: all.data?.deliveries.edges[0].cursor,
    });
    expect((await gw.gql(key, LIST, { vendor: 'BRAZE' })).data?.deliveries.totalCount).toBe(3);
    await eventually(
      () => gw.gql(key, LIST, { status: 'DELIVERED' }),
      (r) => r.data?.deliveries.totalCount === 6,
    );
    expect(codes(await gw.gql(key, LIST, { after: 'nope' }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gw.gql(key, LIST, { first: 1000 }))).toEqual(['BAD_USER_INPUT']);
  });

  it('requeues dead deliveries with retryDeliveries, which needs deliveries:write', async () => {
    const { key, workspaceId } = await gw.newWorkspace({ braze: vendors().braze });
    const externalId = anExternalId();
    braze.queue(externalId, { kind: 'status', status: 403, body: { message: 'Access Denied' } });
    await merge(key, externalId);
    const dead = await eventually(
      () => gw.gql(key, LIST, { status: 'DEAD' }),
      // The page and totalCount are separate statements: wait for the row in both.
      (r) => r.data?.deliveries.totalCount === 1 && r.data.deliveries.edges.length === 1,
    );
    const node = dead.data!.deliveries.edges[0].node;
    expect(node.lastError).toContain('Access Denied');
    const reader = await gw.newKey(workspaceId, ['profiles:read']);
    expect(codes(await gw.gql(reader, RETRY, { ids: [node.id] }))).toEqual(['FORBIDDEN']);
    expect(codes(await gw.gql(key, RETRY, { ids: ['x1'] }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gw.gql(key, RETRY, { ids: [] }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gw.gql(key, RETRY, { ids: [node.id, '987654321'] }))).toEqual(['NOT_FOUND']);
    const other = await gw.newWorkspace();
    expect(codes(await gw.gql(other.key, RETRY, { ids: [node.id] }))).toEqual(['NOT_FOUND']);
    const writer = await gw.newKey(workspaceId, ['deliveries:write']);
    const retried = await gw.gql(writer, RETRY, { ids: [node.id] });
    expect(retried.data?.retryDeliveries).toEqual([
      { id: node.id, status: 'PENDING', attempts: 0 },
    ]);
    await eventually(
      () => gw.gql(key, LIST, { status: 'DELIVERED' }),
      (r) => r.data?.deliveries.totalCount === 1,
    );
  });

  it('keeps identifyUsers answering while a vendor hangs', async () => {
    const { key } = await gw.newWorkspace({ braze: vendors().braze });
    const stuck = anExternalId();
    braze.queue(stuck, { kind: 'hang' });
    await merge(key, stuck);
    await eventually(
      async () => braze.requests.filter((r) => r.body.includes(stuck)).length,
      (n) => n === 1,
    );
    // The dispatcher now waits on the vendor; identifications go on meanwhile.
    for (let i = 0; i < 3; i++) expect((await merge(key)).result.outcome).toBe('MERGED');
    const waiting = braze.requests.filter((r) => r.body.includes(stuck));
    expect(waiting.map((r) => r.answer)).toEqual(['hang']);
    braze.releaseHanging();
  });

  it('never shows one workspace the deliveries of another', async () => {
    const a = await gw.newWorkspace(vendors());
    const b = await gw.newWorkspace(vendors());
    await merge(a.key);
    expect((await gw.gql(b.key, LIST, {})).data?.deliveries.totalCount).toBe(0);
  });
});
