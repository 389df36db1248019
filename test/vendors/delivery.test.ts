import { and, eq } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Database } from '../../src/db/client.js';
import { createServices } from '../../src/gateway.js';
import type { Services } from '../../src/http/context.js';
import { DEFAULT_DISPATCHER_OPTIONS, Dispatcher } from '../../src/outbox/dispatcher.js';
import { enqueueIdentityChanges } from '../../src/outbox/enqueue.js';
import { outboxMessages, vendorPauses } from '../../src/outbox/outbox.sql.js';
import { anAlias, anAnonId, anExternalId } from '../helpers/builders.js';
import { testConfig } from '../helpers/config.js';
import { openTestDatabase } from '../helpers/database.js';
import { startBrazeStub, startMixpanelStub, type VendorStub } from '../helpers/vendor-stubs.js';

const BRAZE_KEY = 'braze-test-key';
const MIXPANEL_TOKEN = 'mixpanel-test-token';

let database: Database;
let services: Services;
let braze: VendorStub;
let mixpanel: VendorStub;
let dispatcher: Dispatcher;

const OPTIONS = {
  ...DEFAULT_DISPATCHER_OPTIONS,
  pollMs: 10,
  leaseMs: 10_000,
  // Far beyond any answer of the local stubs, however loaded the machine.
  requestTimeoutMs: 10_000,
  backoffBaseMs: 20,
  backoffMaxMs: 100,
  maxAttempts: 4,
};

beforeAll(async () => {
  database = await openTestDatabase();
  services = createServices(database, testConfig());
  braze = await startBrazeStub(BRAZE_KEY);
  mixpanel = await startMixpanelStub(MIXPANEL_TOKEN);
  dispatcher = new Dispatcher(database.db, pino({ level: 'silent' }), OPTIONS);
});
afterAll(async () => {
  await dispatcher?.stop();
  await braze?.close();
  await mixpanel?.close();
  await database?.close();
});

interface Scope {
  workspaceId: string;
  anonIdLabel: string;
}

async function newScope(
  options: { mixpanel?: boolean; braze?: boolean; importApi?: boolean } = {},
): Promise<Scope> {
  const { workspace } = await services.auth.createWorkspace({
    name: anExternalId('ws'),
    mixpanel:
      options.mixpanel === false
        ? null
        : {
            token: MIXPANEL_TOKEN,
            apiHost: mixpanel.url,
            idMerge: 'ORIGINAL',
            serviceAccount: options.importApi ? 'sa-user:sa-secret' : null,
            projectId: options.importApi ? '12345' : null,
          },
    braze: options.braze === false ? null : { apiKey: BRAZE_KEY, restEndpoint: braze.url },
  });
  latestWorkspace = workspace.id;
  return { workspaceId: workspace.id, anonIdLabel: workspace.anonIdLabel };
}

/** The workspace of the latest scope: each test makes its scope and reads its deliveries. */
let latestWorkspace = '';

/** An identified user and an anonymous one, merged; returns the merge's change id. */
async function mergeOne(scope: Scope, externalId = anExternalId()) {
  const anonId = anAnonId();
  await services.track.track(scope, {
    events: [
      { externalId, name: 'e', time: new Date(Date.now() - 1000) },
      { anonId, name: 'e', time: new Date(Date.now() - 1000) },
    ],
  });
  const payload = await services.identity.identify(scope, {
    anonIdsToIdentify: [{ externalId, anonId }],
  });
  const result = payload.results[0];
  expect(result.outcome).toBe('MERGED');
  return { externalId, anonId, changeId: result.changeId! };
}

/** Deliveries of a change of the workspace of the test's latest scope. */
async function rowsOf(changeId: string) {
  return database.db
    .select()
    .from(outboxMessages)
    .where(
      and(eq(outboxMessages.workspaceId, latestWorkspace), eq(outboxMessages.changeId, changeId)),
    )
    .orderBy(outboxMessages.vendor);
}

/** Runs dispatcher cycles until `done` holds (or fails after `ms`). */
async function until(
  done: () => Promise<boolean>,
  ms = 8000,
  by: Dispatcher = dispatcher,
): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    await by.runOnce();
    if (await done()) return;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 15));
  }
}

const statuses = async (changeId: string) =>
  (await rowsOf(changeId)).map((r) => [r.vendor, r.status]);
const sentFor = (stub: VendorStub, needle: string) =>
  stub.requests.filter((r) => r.body.includes(needle));

describe('the transactional outbox', () => {
  it('writes one row per configured vendor in the transaction of the merge', async () => {
    const scope = await newScope();
    const { changeId } = await mergeOne(scope);
    expect(await statuses(changeId)).toEqual([
      ['BRAZE', 'PENDING'],
      ['MIXPANEL', 'PENDING'],
    ]);
  });

  it('writes no row for a vendor that is not configured', async () => {
    const scope = await newScope({ mixpanel: false });
    const { changeId } = await mergeOne(scope);
    expect(await statuses(changeId)).toEqual([['BRAZE', 'PENDING']]);
  });

  it('leaves no row behind when the transaction of a change rolls back', async () => {
    const scope = await newScope();
    const change = {
      kind: 'identified' as const,
      index: 0,
      mergeId: null,
      changeId: crypto.randomUUID(),
      externalId: anExternalId(),
      profileId: crypto.randomUUID(),
      absorbedProfileId: null,
      behavior: 'MERGE' as const,
      identifier: { kind: 'anonId' as const, anonId: anAnonId() },
      anonIds: [anAnonId()],
      aliases: [],
      survivorAliasLabels: [],
    };
    const ctx = { workspaceId: scope.workspaceId, anonIdLabel: 'anon_id', now: new Date() };
    await expect(
      database.db.transaction(async (tx) => {
        expect(await enqueueIdentityChanges(tx, ctx, [change])).toBe(2);
        throw new Error('the merge failed after enqueueing');
      }),
    ).rejects.toThrow('the merge failed');
    expect(await rowsOf(change.changeId)).toEqual([]);
  });

  it('writes nothing for dryRun or an idempotent repeat', async () => {
    const scope = await newScope();
    const externalId = anExternalId();
    const anonId = anAnonId();
    await services.track.track(scope, {
      events: [{ anonId, name: 'e', time: new Date(Date.now() - 1000) }],
    });
    const dry = await services.identity.identify(scope, {
      dryRun: true,
      anonIdsToIdentify: [{ externalId, anonId }],
    });
    expect(dry.results[0]).toMatchObject({ outcome: 'IDENTIFIED', changeId: null });
    const count = async () =>
      (
        await database.db
          .select()
          .from(outboxMessages)
          .where(eq(outboxMessages.workspaceId, scope.workspaceId))
      ).length;
    expect(await count()).toBe(0);
    const input = {
      idempotencyKey: anExternalId('k'),
      anonIdsToIdentify: [{ externalId, anonId }],
    };
    await services.identity.identify(scope, input);
    expect(await count()).toBe(2);
    await services.identity.identify(scope, input);
    expect(await count()).toBe(2);
  });
});

describe('delivery', () => {
  it('sends the merge to both vendors in their wire formats and marks it DELIVERED', async () => {
    const scope = await newScope();
    const { externalId, anonId, changeId } = await mergeOne(scope);
    await until(async () => (await statuses(changeId)).every(([, s]) => s === 'DELIVERED'));
    const [b] = sentFor(braze, anonId);
    expect(b?.path).toBe('/users/identify');
    expect(b?.payload).toEqual({
      aliases_to_identify: [
        { external_id: externalId, user_alias: { alias_name: anonId, alias_label: 'anon_id' } },
      ],
      merge_behavior: 'merge',
    });
    const [m] = sentFor(mixpanel, anonId);
    expect(m?.path).toBe('/track');
    expect(m?.payload).toEqual([
      {
        event: '$identify',
        properties: expect.objectContaining({
          $identified_id: externalId,
          $anon_id: anonId,
          distinct_id: externalId,
          token: MIXPANEL_TOKEN,
        }),
      },
    ]);
    const rows = await rowsOf(changeId);
    expect(rows.every((r) => r.deliveredAt !== null && r.attempts === 1)).toBe(true);
  });

  it('uses /import with Basic auth when a service account is configured', async () => {
    const scope = await newScope({ importApi: true, braze: false });
    const { anonId, changeId } = await mergeOne(scope);
    await until(async () => (await statuses(changeId)).every(([, s]) => s === 'DELIVERED'));
    const [m] = sentFor(mixpanel, anonId);
    expect(m?.path).toBe('/import');
    expect(m?.query.get('project_id')).toBe('12345');
    expect(m?.headers.authorization).toBe(
      `Basic ${Buffer.from('sa-user:sa-secret').toString('base64')}`,
    );
  });

  it.each([
    ['Retry-After', () => ({ 'Retry-After': '1' })],
    ['X-Ratelimit-Retry-After', () => ({ 'X-Ratelimit-Retry-After': '1' })],
    [
      'X-RateLimit-Reset',
      () => ({ 'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + 1) }),
    ],
  ])('pauses the workspace on a 429 with %s, then delivers', async (_name, makeHeaders) => {
    const headers = makeHeaders();
    const scope = await newScope({ mixpanel: false });
    const externalId = anExternalId();
    braze.queue(externalId, {
      kind: 'status',
      status: 429,
      headers,
      body: { message: 'Rate Limited' },
    });
    const first = await mergeOne(scope, externalId);
    await until(async () => (await statuses(first.changeId))[0]?.[1] === 'RETRYING');
    const [row] = await rowsOf(first.changeId);
    expect(row?.attempts).toBe(0); // a throttle is not a failed attempt
    expect(row?.nextAttemptAt.getTime()).toBeGreaterThan(Date.now());
    // A second change of the same workspace waits for the pause too.
    const second = await mergeOne(scope);
    await dispatcher.runOnce();
    expect(sentFor(braze, second.anonId)).toHaveLength(0);
    await until(
      async () =>
        (await statuses(second.changeId))[0]?.[1] === 'DELIVERED' &&
        (await statuses(first.changeId))[0]?.[1] === 'DELIVERED',
    );
  });

  it.each([
    ['a 500', { kind: 'status', status: 500, body: { message: 'Internal Server Error' } }],
    ['a reset connection', { kind: 'reset' }],
    ['a hanging vendor (timeout)', { kind: 'hang' }],
  ] as const)('retries after %s and then delivers', async (_name, fault) => {
    const scope = await newScope({ mixpanel: false });
    const externalId = anExternalId();
    braze.queue(externalId, fault);
    const { anonId, changeId } = await mergeOne(scope, externalId);
    if (fault.kind === 'hang') {
      // A vendor that never answers is cut off by the request timeout: a short one for this
      // attempt only, so that no answer that is merely slow (a loaded machine) is ever cut off.
      const impatient = new Dispatcher(database.db, pino({ level: 'silent' }), {
        ...OPTIONS,
        requestTimeoutMs: 300,
      });
      await until(async () => (await statuses(changeId))[0]?.[1] === 'RETRYING', 8000, impatient);
    }
    await until(async () => (await statuses(changeId))[0]?.[1] === 'DELIVERED');
    const [row] = await rowsOf(changeId);
    expect(row?.attempts).toBe(2);
    expect(row?.lastError).toBeTruthy();
    expect(sentFor(braze, anonId).length).toBeGreaterThanOrEqual(2);
    braze.releaseHanging();
  });

  it('marks a delivery DEAD with the vendor message on a 400', async () => {
    const scope = await newScope({ mixpanel: false });
    const externalId = anExternalId();
    braze.queue(externalId, {
      kind: 'status',
      status: 400,
      body: { message: 'Invalid request - Mock Error' },
    });
    const { changeId } = await mergeOne(scope, externalId);
    await until(async () => (await statuses(changeId))[0]?.[1] === 'DEAD');
    const [row] = await rowsOf(changeId);
    expect(row?.lastError).toContain('Invalid request - Mock Error');
    expect(row?.attempts).toBe(1);
  });

  it('fails only the items Braze lists in errors[] of a 2xx', async () => {
    const scope = await newScope({ mixpanel: false });
    const a = await mergeOne(scope);
    const b = await mergeOne(scope);
    braze.queue(b.externalId, {
      kind: 'status',
      status: 201,
      body: {
        message: 'success',
        errors: [{ type: 'invalid_external_id', input_array: 'aliases_to_identify', index: 1 }],
      },
    });
    await until(
      async () =>
        (await statuses(b.changeId))[0]?.[1] !== 'PENDING' &&
        (await statuses(a.changeId))[0]?.[1] !== 'PENDING',
    );
    expect((await statuses(a.changeId))[0]?.[1]).toBe('DELIVERED');
    const [dead] = await rowsOf(b.changeId);
    expect(dead).toMatchObject({ status: 'DEAD' });
    expect(dead?.lastError).toContain('invalid_external_id');
  });

  it('pauses the workspace for Mixpanel too when it answers 429', async () => {
    const scope = await newScope({ braze: false });
    const externalId = anExternalId();
    mixpanel.queue(externalId, {
      kind: 'status',
      status: 429,
      headers: { 'retry-after': '1' },
      body: {
        error: 'Project exceeded rate limits. Please retry the request with exponential backoff.',
        status: 0,
      },
    });
    const { changeId } = await mergeOne(scope, externalId);
    await until(async () => (await statuses(changeId))[0]?.[1] === 'RETRYING');
    const [pause] = await database.db
      .select()
      .from(vendorPauses)
      .where(
        and(eq(vendorPauses.workspaceId, scope.workspaceId), eq(vendorPauses.vendor, 'MIXPANEL')),
      );
    expect(pause?.pausedUntil.getTime()).toBeGreaterThan(Date.now());
    await until(async () => (await statuses(changeId))[0]?.[1] === 'DELIVERED');
  });

  it('treats a Mixpanel /track status other than 1 as a failure', async () => {
    const scope = await newScope({ braze: false });
    const externalId = anExternalId();
    mixpanel.queue(externalId, {
      kind: 'status',
      status: 200,
      body: { status: 0, error: 'token, missing or empty' },
    });
    const { changeId } = await mergeOne(scope, externalId);
    await until(async () => (await statuses(changeId))[0]?.[1] === 'DEAD');
    expect((await rowsOf(changeId))[0]?.lastError).toContain('token, missing or empty');
  });

  it('fails only the failed_records of a Mixpanel /import 400', async () => {
    const scope = await newScope({ braze: false, importApi: true });
    const a = await mergeOne(scope);
    const b = await mergeOne(scope);
    mixpanel.queue(a.externalId, {
      kind: 'status',
      status: 400,
      body: {
        code: 400,
        error: 'some data points in the request failed validation',
        num_records_imported: 1,
        status: 'Bad Request',
        failed_records: [
          { index: 0, field: 'properties.time', message: "'properties.time' is invalid" },
        ],
      },
    });
    await until(
      async () =>
        (await statuses(a.changeId))[0]?.[1] !== 'PENDING' &&
        (await statuses(b.changeId))[0]?.[1] !== 'PENDING',
    );
    expect((await statuses(a.changeId))[0]?.[1]).toBe('DEAD');
    expect((await statuses(b.changeId))[0]?.[1]).toBe('DELIVERED');
  });

  it('gives up after the attempt limit and marks the delivery DEAD', async () => {
    const scope = await newScope({ mixpanel: false });
    const externalId = anExternalId();
    braze.queue(
      externalId,
      ...Array.from({ length: 4 }, () => ({ kind: 'status', status: 503 }) as const),
    );
    const { changeId } = await mergeOne(scope, externalId);
    await until(async () => (await statuses(changeId))[0]?.[1] === 'DEAD');
    const [row] = await rowsOf(changeId);
    expect(row?.attempts).toBe(4);
    expect(row?.lastError).toMatch(/gave up after 4 attempts/);
  });

  it('gives up on a delivery older than the age limit, however few its attempts', async () => {
    const scope = await newScope({ mixpanel: false });
    const externalId = anExternalId();
    braze.queue(externalId, { kind: 'status', status: 502 });
    const { changeId } = await mergeOne(scope, externalId);
    // A dispatcher whose clock reads a minute later: the change is older than its limit.
    const strict = new Dispatcher(
      database.db,
      pino({ level: 'silent' }),
      { ...DEFAULT_DISPATCHER_OPTIONS, maxAgeMs: 30_000 },
      { clock: () => new Date(Date.now() + 60_000) },
    );
    while ((await statuses(changeId))[0]?.[1] === 'PENDING') await strict.runOnce();
    const [row] = await rowsOf(changeId);
    expect(row).toMatchObject({ status: 'DEAD', attempts: 1 });
    expect(row?.lastError).toMatch(/gave up after 1 attempts: braze 502/);
  });

  it('keeps order per profile: a later change waits while an earlier one retries', async () => {
    const scope = await newScope({ mixpanel: false });
    const externalId = anExternalId();
    braze.queue(externalId, { kind: 'status', status: 500 });
    const first = await mergeOne(scope, externalId);
    await dispatcher.runOnce();
    expect((await statuses(first.changeId))[0]?.[1]).toBe('RETRYING');
    const second = await mergeOne(scope, externalId);
    await until(async () => (await statuses(second.changeId))[0]?.[1] === 'DELIVERED');
    const order = braze.requests.filter(
      (r) => r.body.includes(first.anonId) || r.body.includes(second.anonId),
    );
    const firstOk = order.findIndex((r) => r.body.includes(first.anonId) && r.answer === 'ok');
    const secondSent = order.findIndex((r) => r.body.includes(second.anonId));
    expect(firstOk).toBeGreaterThanOrEqual(0);
    expect(secondSent).toBeGreaterThan(firstOk);
  });

  it('sends /users/merge when the survivor already holds an alias with that label', async () => {
    const scope = await newScope({ mixpanel: false });
    const externalId = anExternalId();
    const first = await mergeOne(scope, externalId); // the survivor now holds an anon_id alias
    await until(async () => (await statuses(first.changeId))[0]?.[1] === 'DELIVERED');
    const second = await mergeOne(scope, externalId);
    await until(async () => (await statuses(second.changeId))[0]?.[1] === 'DELIVERED');
    const [req] = sentFor(braze, second.anonId);
    expect(req?.path).toBe('/users/merge');
    expect(req?.payload.merge_updates).toEqual([
      {
        identifier_to_merge: { user_alias: { alias_name: second.anonId, alias_label: 'anon_id' } },
        identifier_to_keep: { external_id: externalId },
      },
    ]);
  });

  it('requeues DEAD deliveries with retryDeliveries, and NOT_FOUND for unknown ids changes nothing', async () => {
    const scope = await newScope({ mixpanel: false });
    const externalId = anExternalId();
    braze.queue(externalId, { kind: 'status', status: 401, body: { message: 'Invalid API key' } });
    const { changeId } = await mergeOne(scope, externalId);
    await until(async () => (await statuses(changeId))[0]?.[1] === 'DEAD');
    const [dead] = await rowsOf(changeId);
    await expect(
      services.deliveries.retry(scope.workspaceId, [String(dead.id), '999999999']),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect((await statuses(changeId))[0]?.[1]).toBe('DEAD');
    const [requeued] = await services.deliveries.retry(scope.workspaceId, [String(dead.id)]);
    expect(requeued).toMatchObject({ status: 'PENDING', attempts: 0 });
    await until(async () => (await statuses(changeId))[0]?.[1] === 'DELIVERED');
    // Another workspace cannot see or requeue it.
    const other = await newScope();
    await expect(
      services.deliveries.retry(other.workspaceId, [String(dead.id)]),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('delivers an alias identification and an email identification to Braze only', async () => {
    const scope = await newScope();
    const alias = anAlias();
    const email = `${anExternalId()}@example.com`;
    await services.track.track(scope, {
      attributes: [{ userAlias: alias, email }],
    });
    const externalId = anExternalId();
    const payload = await services.identity.identify(scope, {
      emailsToIdentify: [
        { externalId, email, prioritization: ['UNIDENTIFIED', 'MOST_RECENTLY_UPDATED'] },
      ],
    });
    const changeId = payload.results[0].changeId!;
    expect(await statuses(changeId)).toEqual([['BRAZE', 'PENDING']]); // no anon id: nothing for Mixpanel
    await until(async () => (await statuses(changeId))[0]?.[1] === 'DELIVERED');
    const [req] = sentFor(braze, email);
    expect(req?.payload.emails_to_identify).toEqual([
      { external_id: externalId, email, prioritization: ['unidentified', 'most_recently_updated'] },
    ]);
  });
});
