/**
 * forgetUsers end to end: over HTTP, with the gateway's own dispatcher delivering the vendor
 * deletions to stub vendors that check the wire formats; then suppression, lifting, receipts,
 * scopes, limits, idempotency and workspace isolation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { anAnonId, anEvent, anExternalId } from '../helpers/builders.js';
import { codes, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import {
  MIXPANEL_DATA_DELETIONS,
  startBrazeStub,
  startMixpanelStub,
  type StubRequest,
  type VendorStub,
} from '../helpers/vendor-stubs.js';

let gw: TestGateway;
let braze: VendorStub;
let mixpanel: VendorStub;
beforeAll(async () => {
  braze = await startBrazeStub('bk');
  mixpanel = await startMixpanelStub('mt', 'gdpr-oauth');
  gw = await startTestGateway({
    OUTBOX_DISPATCHER: 'true',
    OUTBOX_POLL_MS: '20',
    OUTBOX_BACKOFF_BASE_MS: '20',
  });
});
afterAll(async () => {
  await gw?.close();
  await braze?.close();
  await mixpanel?.close();
});

const vendors = (gdprToken: string | null = 'gdpr-oauth') => ({
  braze: { apiKey: 'bk', restEndpoint: braze.url },
  mixpanel: {
    token: 'mt',
    apiHost: mixpanel.url,
    idMerge: 'ORIGINAL' as const,
    serviceAccount: null,
    projectId: null,
    gdprToken,
    gdprApiHost: mixpanel.url,
  },
});

const RECEIPT = `id status requestedAt completedAt reason identifierCount fingerprints notErased
  deliveries { id vendor status type lastError vendorReference }`;
const FORGET = `mutation ($input: ForgetUsersInput!) {
  forgetUsers(input: $input) { dryRun results { index outcome reason erasure { ${RECEIPT} } } }
}`;
const ERASURE = `query ($id: ID!) { erasure(id: $id) { ${RECEIPT} } }`;
const TRACK = `mutation ($i: TrackUsersInput!) {
  trackUsers(input: $i) { eventsProcessed attributesProcessed suppressed message }
}`;
const IDENTIFY = `mutation ($input: IdentifyUsersInput!) {
  identifyUsers(input: $input) { results { outcome reason } }
}`;
const ALIASES = `mutation ($input: CreateAliasesInput!) {
  createAliases(input: $input) { aliasesProcessed aliases { aliasName } rejected { index reason } }
}`;
const LIFT = `mutation ($users: [ProfileLookup!]!) { liftSuppression(users: $users) }`;
const PROFILE = `query ($by: ProfileLookup!) { profile(by: $by) { id externalId anonIds } }`;

/** A person seen anonymously, then identified (one merge), with a CRM alias. */
async function aPerson(key: string) {
  const externalId = anExternalId('person');
  const anonId = anAnonId();
  const track = await gw.gql(key, TRACK, {
    i: {
      events: [
        { externalId, ...anEvent() },
        { anonId, ...anEvent() },
      ],
      attributes: [{ externalId, email: `${externalId}@example.com`, firstName: 'Ada' }],
    },
  });
  expect(track.errors).toBeUndefined();
  const merged = await gw.gql(key, IDENTIFY, {
    input: { anonIdsToIdentify: [{ externalId, anonId }] },
  });
  expect(merged.data?.identifyUsers.results[0].outcome).toBe('MERGED');
  return { externalId, anonId, email: `${externalId}@example.com` };
}

async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`not reached: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 30));
  }
}

const receipt = (key: string, id: string) =>
  gw.gql(key, ERASURE, { id }).then((r) => r.data?.erasure);

const mentioning = (stub: VendorStub, value: string): StubRequest[] =>
  stub.requests.filter((r) => r.body.includes(value));

describe('forgetUsers over GraphQL', () => {
  it('erases here at once, deletes at Braze and Mixpanel, and completes the receipt', async () => {
    const { key } = await gw.newWorkspace(vendors());
    const person = await aPerson(key);
    // Let the identification's own deliveries, to both vendors, go first: what follows must be
    // deletions only.
    await eventually(
      () =>
        Promise.resolve([braze, mixpanel].map((stub) => mentioning(stub, person.anonId).length)),
      (sent) => sent.every((n) => n > 0),
    );
    const seen = { braze: braze.requests.length, mixpanel: mixpanel.requests.length };

    const res = await gw.gql(key, FORGET, {
      input: { users: [{ email: person.email.toUpperCase() }], reason: 'ticket 7' },
    });
    expect(res.errors).toBeUndefined();
    const [item] = res.data!.forgetUsers.results;
    expect(item).toMatchObject({ index: 0, outcome: 'FORGOTTEN', reason: null });
    expect(item.erasure).toMatchObject({
      reason: 'ticket 7',
      identifierCount: 3, // external id, email, the anon id merged in
      notErased: [],
    });
    expect(item.erasure.fingerprints).toHaveLength(3);
    expect(JSON.stringify(item.erasure)).not.toContain(person.externalId);
    expect(['PENDING', 'COMPLETED']).toContain(item.erasure.status);
    expect((await gw.gql(key, PROFILE, { by: { externalId: person.externalId } })).data).toEqual({
      profile: null,
    });

    const done = await eventually(
      () => receipt(key, item.erasure.id),
      (e) => e?.status === 'COMPLETED',
    );
    expect(done.completedAt).not.toBeNull();
    expect(done.deliveries.map((d: { type: string }) => d.type)).toEqual(
      Array(3).fill('identity.erased.v1'),
    );
    expect(done.deliveries.every((d: { status: string }) => d.status === 'DELIVERED')).toBe(true);
    const task = done.deliveries.find((d: { vendorReference: string | null }) => d.vendorReference);
    expect(task?.vendor).toBe('MIXPANEL');
    expect(task?.vendorReference).toMatch(/^\d+$/);

    // What the vendors were told after the erasure: the three deletions, nothing else about them.
    const after = [
      ...braze.requests.slice(seen.braze),
      ...mixpanel.requests.slice(seen.mixpanel),
    ].filter((r) => r.body.includes(person.externalId) || r.body.includes(person.anonId));
    expect(after.map((r) => r.path).sort()).toEqual(
      ['/engage', '/users/delete', MIXPANEL_DATA_DELETIONS].sort(),
    );
    expect(after.flatMap((r) => r.violations)).toEqual([]);
    const sent = new Map(after.map((r) => [r.path, r.payload]));
    expect(sent.get('/users/delete')).toEqual({ external_ids: [person.externalId] });
    expect(sent.get('/engage')).toEqual(
      [person.externalId, person.anonId].map((id) => ({
        $token: 'mt',
        $distinct_id: id,
        $delete: null,
        $ignore_alias: true,
      })),
    );
    expect(sent.get(MIXPANEL_DATA_DELETIONS)).toEqual({
      distinct_ids: [person.externalId, person.anonId],
      compliance_type: 'GDPR',
    });
  });

  it('keeps the person forgotten: tracking drops them, identification and aliases refuse them, until lifted', async () => {
    const { key } = await gw.newWorkspace(vendors());
    const person = await aPerson(key);
    const forgotten = await gw.gql(key, FORGET, {
      input: { users: [{ externalId: person.externalId }] },
    });
    expect(forgotten.data?.forgetUsers.results[0].outcome).toBe('FORGOTTEN');

    const other = anExternalId('other');
    const tracked = await gw.gql(key, TRACK, {
      i: {
        events: [
          { externalId: person.externalId, ...anEvent() },
          { anonId: person.anonId, ...anEvent() },
          { externalId: other, ...anEvent() },
        ],
        attributes: [{ externalId: person.externalId, firstName: 'Again' }],
      },
    });
    expect(tracked.data?.trackUsers).toEqual({
      eventsProcessed: 1,
      attributesProcessed: 0,
      suppressed: 3,
      message: 'success',
    });
    for (const by of [{ externalId: person.externalId }, { anonId: person.anonId }]) {
      expect((await gw.gql(key, PROFILE, { by })).data?.profile).toBeNull();
    }
    expect(
      (await gw.gql(key, PROFILE, { by: { externalId: other } })).data?.profile,
    ).not.toBeNull();

    const identified = await gw.gql(key, IDENTIFY, {
      input: {
        anonIdsToIdentify: [
          { externalId: person.externalId, anonId: anAnonId() },
          { externalId: other, anonId: person.anonId },
        ],
        emailsToIdentify: [
          { externalId: other, email: person.email, prioritization: ['IDENTIFIED'] },
        ],
      },
    });
    expect(identified.data?.identifyUsers.results).toEqual([
      { outcome: 'REJECTED', reason: 'FORGOTTEN' },
      { outcome: 'REJECTED', reason: 'FORGOTTEN' },
      { outcome: 'REJECTED', reason: 'FORGOTTEN' },
    ]);

    const aliased = await gw.gql(key, ALIASES, {
      input: {
        userAliases: [
          { aliasName: 'crm-1', aliasLabel: 'crm', externalId: person.externalId },
          { aliasName: person.anonId, aliasLabel: 'anon_id' },
          { aliasName: 'crm-2', aliasLabel: 'crm', externalId: other },
        ],
      },
    });
    expect(aliased.data?.createAliases).toEqual({
      aliasesProcessed: 1,
      aliases: [{ aliasName: 'crm-2' }],
      rejected: [
        { index: 0, reason: 'FORGOTTEN' },
        { index: 1, reason: 'FORGOTTEN' },
      ],
    });

    // Lifted (by the identifiers, given again), the person may come back.
    const lifted = await gw.gql(key, LIFT, {
      users: [{ externalId: person.externalId }, { anonId: person.anonId }, { externalId: other }],
    });
    expect(lifted.data?.liftSuppression).toBe(2);
    const back = await gw.gql(key, TRACK, {
      i: { events: [{ externalId: person.externalId, ...anEvent() }] },
    });
    expect(back.data?.trackUsers).toMatchObject({ eventsProcessed: 1, suppressed: 0 });
    const badLift = await gw.gql(key, LIFT, {
      users: [{ id: '00000000-0000-4000-8000-000000000000' }],
    });
    expect(codes(badLift)).toEqual(['BAD_USER_INPUT']);
  });

  it('says on the receipt that Mixpanel events stay without a GDPR token, and deletes by alias an alias-only person', async () => {
    const { key } = await gw.newWorkspace(vendors(null));
    const anonId = anAnonId();
    await gw.gql(key, TRACK, { i: { events: [{ anonId, ...anEvent() }] } });
    const res = await gw.gql(key, FORGET, { input: { users: [{ anonId }], suppress: false } });
    const { erasure } = res.data!.forgetUsers.results[0];
    expect(erasure.notErased).toEqual(['MIXPANEL_EVENTS']);
    const done = await eventually(
      () => receipt(key, erasure.id),
      (e) => e?.status === 'COMPLETED',
    );
    expect(done.deliveries.map((d: { vendor: string }) => d.vendor).sort()).toEqual([
      'BRAZE',
      'MIXPANEL',
    ]);
    const [deleted] = mentioning(braze, anonId).filter((r) => r.path === '/users/delete');
    expect(deleted.payload).toEqual({
      user_aliases: [{ alias_name: anonId, alias_label: 'anon_id' }],
    });
    expect(mentioning(mixpanel, anonId).map((r) => r.path)).toEqual(['/engage']);
    // Not suppressed: the anon id may be tracked again.
    const again = await gw.gql(key, TRACK, { i: { events: [{ anonId, ...anEvent() }] } });
    expect(again.data?.trackUsers.suppressed).toBe(0);
  });

  it('marks the receipt FAILED when a vendor refuses the deletion, and completes it after retryDeliveries', async () => {
    const { key } = await gw.newWorkspace(vendors());
    const person = await aPerson(key);
    // Only the deletion's body is this (the identification's deliveries carry more).
    const deletion = JSON.stringify({ external_ids: [person.externalId] });
    braze.queue(deletion, { kind: 'status', status: 400, body: { message: 'no' } });
    const res = await gw.gql(key, FORGET, {
      input: { users: [{ externalId: person.externalId }] },
    });
    const id = res.data!.forgetUsers.results[0].erasure.id;
    const failed = await eventually(
      () => receipt(key, id),
      (e) => e?.status === 'FAILED',
    );
    const dead = failed.deliveries.find((d: { status: string }) => d.status === 'DEAD');
    expect(dead.vendor).toBe('BRAZE');
    expect(failed.completedAt).toBeNull();
    const retried = await gw.gql(
      key,
      `mutation ($ids: [ID!]!) { retryDeliveries(ids: $ids) { id } }`,
      {
        ids: [dead.id],
      },
    );
    expect(retried.errors).toBeUndefined();
    const done = await eventually(
      () => receipt(key, id),
      (e) => e?.status === 'COMPLETED',
    );
    expect(done.deliveries.every((d: { status: string }) => d.status === 'DELIVERED')).toBe(true);
  });

  it('answers a repeat with the same idempotency key with the first result, and refuses another request under it', async () => {
    const { key } = await gw.newWorkspace(vendors());
    const person = await aPerson(key);
    const input = { users: [{ externalId: person.externalId }], idempotencyKey: 'erase-1' };
    const first = await gw.gql(key, FORGET, { input });
    const again = await gw.gql(key, FORGET, { input });
    expect(again.data?.forgetUsers.results[0].outcome).toBe('FORGOTTEN');
    expect(again.data?.forgetUsers.results[0].erasure.id).toBe(
      first.data?.forgetUsers.results[0].erasure.id,
    );
    const list = await gw.gql(key, `{ erasures { totalCount } }`);
    expect(list.data?.erasures.totalCount).toBe(1);
    const other = await gw.gql(key, FORGET, {
      input: { users: [{ externalId: 'someone-else' }], idempotencyKey: 'erase-1' },
    });
    expect(codes(other)).toEqual(['CONFLICT']);
  });

  it('lists receipts newest first, in pages, within the caller workspace only', async () => {
    const a = await gw.newWorkspace(vendors());
    const b = await gw.newWorkspace(vendors());
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await gw.gql(a.key, FORGET, {
        input: { users: [{ externalId: `nobody-${i}` }] },
      });
      expect(res.data?.forgetUsers.results[0]).toMatchObject({
        outcome: 'NOT_FOUND',
        erasure: { identifierCount: 0, status: 'COMPLETED', deliveries: [] },
      });
      ids.push(res.data!.forgetUsers.results[0].erasure.id);
    }
    const PAGE = `query ($after: String) { erasures(first: 2, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }`;
    const one = (await gw.gql(a.key, PAGE)).data!.erasures;
    expect(one.totalCount).toBe(3);
    expect(one.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([ids[2], ids[1]]);
    const two = (await gw.gql(a.key, PAGE, { after: one.pageInfo.endCursor })).data!.erasures;
    expect(two.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([ids[0]]);
    expect(two.pageInfo.hasNextPage).toBe(false);

    expect((await gw.gql(b.key, PAGE)).data!.erasures.totalCount).toBe(0);
    expect((await gw.gql(b.key, ERASURE, { id: ids[0] })).data).toEqual({ erasure: null });
    expect(codes(await gw.gql(b.key, ERASURE, { id: 'nope' }))).toEqual(['BAD_USER_INPUT']);
  });

  it('needs users:delete (or admin) for every erasure operation', async () => {
    const { workspaceId, key: admin } = await gw.newWorkspace(vendors());
    const person = await aPerson(admin);
    const reader = await gw.newKey(workspaceId, [
      'profiles:read',
      'users:track',
      'users:alias',
      'users:identify',
      'deliveries:write',
    ]);
    const deleter = await gw.newKey(workspaceId, ['users:delete']);
    const operations: [string, Record<string, unknown>][] = [
      [FORGET, { input: { users: [{ externalId: person.externalId }] } }],
      [LIFT, { users: [{ externalId: person.externalId }] }],
      [`{ erasures { totalCount } }`, {}],
      [ERASURE, { id: '00000000-0000-4000-8000-000000000000' }],
    ];
    for (const [query, variables] of operations) {
      expect(codes(await gw.gql(reader, query, variables))).toEqual(['FORBIDDEN']);
    }
    expect(
      (await gw.gql(admin, PROFILE, { by: { externalId: person.externalId } })).data?.profile,
    ).not.toBeNull();
    for (const [query, variables] of operations) {
      expect((await gw.gql(deleter, query, variables)).errors).toBeUndefined();
    }
  });

  it('refuses 51 users or a long reason whole, writing nothing', async () => {
    const { key } = await gw.newWorkspace(vendors());
    const person = await aPerson(key);
    const users = [
      { externalId: person.externalId },
      ...Array.from({ length: 50 }, () => ({ externalId: anExternalId() })),
    ];
    const many = await gw.gql(key, FORGET, { input: { users } });
    expect(codes(many)).toEqual(['BAD_USER_INPUT']);
    expect(many.errors?.[0].extensions?.['problems'][0].path).toBe('input.users');
    const long = await gw.gql(key, FORGET, {
      input: { users: users.slice(0, 1), reason: 'x'.repeat(201) },
    });
    expect(codes(long)).toEqual(['BAD_USER_INPUT']);
    expect((await gw.gql(key, `{ erasures { totalCount } }`)).data?.erasures.totalCount).toBe(0);
    expect(
      (await gw.gql(key, PROFILE, { by: { externalId: person.externalId } })).data?.profile,
    ).not.toBeNull();
    const dry = await gw.gql(key, FORGET, { input: { users: users.slice(0, 1), dryRun: true } });
    expect(dry.data?.forgetUsers).toMatchObject({
      dryRun: true,
      results: [{ outcome: 'FORGOTTEN', erasure: { identifierCount: 3, deliveries: [] } }],
    });
    expect(
      (await gw.gql(key, PROFILE, { by: { externalId: person.externalId } })).data?.profile,
    ).not.toBeNull();
  });
});
