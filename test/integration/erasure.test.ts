/**
 * Forgetting a person here: after the erasure, a dump of every table holds none of the person's
 * identifiers, names or attribute values, while other people's data is as it was; the receipt
 * holds fingerprints only; waiting deliveries about the person are skipped, never sent.
 */
import { sql } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Database } from '../../src/db/client.js';
import { PLACEMENT, schemaTables } from '../../src/db/distribution.js';
import { rowsOf } from '../../src/db/rows.js';
import { ErasureService } from '../../src/erasure/erasure-service.js';
import { suppressedQuery } from '../../src/erasure/suppression.js';
import { createServices } from '../../src/gateway.js';
import type { Services } from '../../src/http/context.js';
import { DEFAULT_DISPATCHER_OPTIONS, Dispatcher } from '../../src/outbox/dispatcher.js';
import { anAnonId, anExternalId } from '../helpers/builders.js';
import { testConfig } from '../helpers/config.js';
import { openOwnDatabase } from '../helpers/database.js';
import { explainAnalyze, rowsRead } from '../helpers/plans.js';
import { startBrazeStub, startMixpanelStub, type VendorStub } from '../helpers/vendor-stubs.js';

let own: Awaited<ReturnType<typeof openOwnDatabase>>;
let database: Database;
let services: Services;
let braze: VendorStub;
let mixpanel: VendorStub;
beforeAll(async () => {
  own = await openOwnDatabase('erasure');
  database = own.database;
  services = createServices(database, testConfig({}));
  braze = await startBrazeStub('bk');
  mixpanel = await startMixpanelStub('mt', 'gdpr-oauth');
});
afterAll(async () => {
  await braze?.close();
  await mixpanel?.close();
  await own?.close();
});

/** Both vendors, Mixpanel with a GDPR token; nothing is sent unless a test runs a dispatcher. */
function vendors() {
  return {
    braze: { apiKey: 'bk', restEndpoint: braze.url },
    mixpanel: {
      token: 'mt',
      apiHost: mixpanel.url,
      idMerge: 'ORIGINAL' as const,
      serviceAccount: null,
      projectId: null,
      gdprToken: 'gdpr-oauth',
      gdprApiHost: mixpanel.url,
    },
  };
}

async function newScope() {
  const { workspace } = await services.auth.createWorkspace({
    name: anExternalId('ws'),
    ...vendors(),
  });
  return { workspaceId: workspace.id, anonIdLabel: workspace.anonIdLabel };
}

/** Runs a dispatcher until nothing is due in the workspace any more. */
async function deliverAll(ws: string): Promise<void> {
  const dispatcher = new Dispatcher(database.db, pino({ level: 'silent' }), {
    ...DEFAULT_DISPATCHER_OPTIONS,
    backoffBaseMs: 10,
  });
  try {
    for (let round = 0; round < 200; round++) {
      await dispatcher.runOnce();
      const waiting = rowsOf<{ n: number }>(
        await database.db.execute(sql`select count(*)::int as n from outbox_messages
          where workspace_id = ${ws} and status in ('PENDING', 'RETRYING')`),
      );
      if (Number(waiting[0].n) === 0) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('deliveries still waiting');
  } finally {
    await dispatcher.stop();
  }
}
type Scope = Awaited<ReturnType<typeof newScope>>;

/** A person with everything the gateway can hold about them; returns every value they gave. */
async function aPerson(scope: Scope, tag: string) {
  const externalId = anExternalId(`${tag}-x`);
  const email = `${tag}-${anExternalId('mail')}@example.com`.toLowerCase();
  const firstName = `First-${anExternalId(tag)}`;
  const city = `City-${anExternalId(tag)}`;
  const secret = `custom-${anExternalId(tag)}`;
  const token = `token-${anExternalId(tag)}`;
  const crm = `crm-${anExternalId(tag)}`;
  const [anon1, anon2] = [anAnonId(), anAnonId()];
  const time = new Date(Date.now() - 60_000);
  await services.track.track(scope, {
    attributes: [
      { externalId, email, firstName, homeCity: city, customAttributes: { note: secret } },
    ],
    events: [
      { externalId, name: 'visit', time },
      { anonId: anon1, name: 'browse', time },
      { anonId: anon2, name: 'browse', time },
    ],
    purchases: [{ externalId, productId: 'p1', priceCents: 500, time }],
    sessions: [{ externalId, appId: 'app', startedAt: time }],
    pushTokens: [{ externalId, appId: 'app', token }],
  });
  await services.aliases.createAliases(scope, [
    { aliasLabel: 'crm_id', aliasName: crm, externalId },
  ]);
  // Merged twice, the second merge undone; the first answered under an idempotency key.
  const first = await services.identity.identify(scope, {
    anonIdsToIdentify: [{ externalId, anonId: anon1 }],
    idempotencyKey: `key-${anExternalId(tag)}`,
  });
  expect(first.results[0].outcome).toBe('MERGED');
  const second = await services.identity.identify(scope, {
    anonIdsToIdentify: [{ externalId, anonId: anon2 }],
  });
  expect(second.results[0].outcome).toBe('MERGED');
  await services.undo.undo(scope, second.results[0].changeId!);
  const profile = await services.profiles.findProfile(scope, { externalId });
  return {
    externalId,
    restoredAnonId: anon2,
    profileId: profile!.id,
    values: [externalId, email, firstName, city, secret, token, crm, anon1, profile!.id],
  };
}

/**
 * Every row of every table, as JSON text: all of the reference tables, and of each distributed
 * one the rows of the workspace (the person's values are random, held by no other workspace).
 */
async function dump(ws: string): Promise<string> {
  const parts: string[] = [];
  for (const table of schemaTables()) {
    const mine = PLACEMENT[table] === 'distributed' ? sql`where t.workspace_id = ${ws}` : sql``;
    const rows = rowsOf<{ j: unknown }>(
      await database.db.execute(
        sql`select coalesce(json_agg(t), '[]'::json)::text as j from ${sql.identifier(table)} t ${mine}`,
      ),
    );
    parts.push(String(rows[0].j));
  }
  return parts.join('\n');
}

const EVERY_CHILD = {
  aliases: true,
  events: true,
  dailyCounts: true,
  purchases: true,
  pushTokens: true,
  appSessions: true,
};

async function deliveries(ws: string) {
  return rowsOf<{ status: string; last_error: string | null; payload: unknown }>(
    await database.db.execute(
      sql`select status, last_error, payload from outbox_messages where workspace_id = ${ws}`,
    ),
  );
}

describe('forgetting a person', () => {
  it('leaves none of their values in any table, and everyone else as they were', async () => {
    const scope = await newScope();
    const person = await aPerson(scope, 'gone');
    const other = await aPerson(scope, 'kept');
    const before = await dump(scope.workspaceId);
    for (const v of [...person.values, ...other.values]) expect(before).toContain(v);
    const otherBefore = await services.profiles.findProfileWith(
      scope,
      { externalId: other.externalId },
      EVERY_CHILD,
    );

    const result = await services.erasure.forget(scope, {
      users: [{ email: person.values[1].toUpperCase() }],
      reason: 'ticket 42',
    });
    expect(result.dryRun).toBe(false);
    expect(result.results).toHaveLength(1);
    const [item] = result.results;
    expect(item.outcome).toBe('FORGOTTEN');
    // External id, email, the crm alias and the anon id merged in (the undone merge's anon id
    // went back to a profile of its own).
    expect(item.erasure?.identifierCount).toBe(4);
    expect(item.erasure?.fingerprints).toHaveLength(4);
    expect(item.erasure?.reason).toBe('ticket 42');

    expect(item.erasure?.status).toBe('PENDING');
    expect(item.erasure?.notErased).toEqual([]);

    // The vendor deletions wait in the outbox with the identifiers they need, until delivered.
    const [brazeBefore, mixpanelBefore] = [braze.requests.length, mixpanel.requests.length];
    await deliverAll(scope.workspaceId);
    const sent = [...braze.requests.slice(brazeBefore), ...mixpanel.requests.slice(mixpanelBefore)];
    const about = (r: { body: string }) => person.values.some((v) => r.body.includes(v));
    const deletions = sent.filter(about);
    expect(deletions.map((r) => r.path).sort()).toEqual(
      ['/api/app/data-deletions/v3.0/', '/engage', '/users/delete'].sort(),
    );
    expect(sent.flatMap((r) => r.violations)).toEqual([]);
    const byPath = new Map(deletions.map((r) => [r.path, r.payload]));
    // Braze by the external id (it takes the aliases with it); Mixpanel by every distinct id.
    expect(byPath.get('/users/delete')).toEqual({ external_ids: [person.externalId] });
    const anon1 = person.values[7];
    expect(
      (byPath.get('/engage') as { $distinct_id: string }[]).map((u) => u.$distinct_id).sort(),
    ).toEqual([person.externalId, anon1].sort());
    expect(byPath.get('/api/app/data-deletions/v3.0/')).toEqual({
      distinct_ids: [person.externalId, anon1],
      compliance_type: 'GDPR',
    });
    const receipt = await services.erasure.erasure(scope, item.erasure!.id);
    expect(receipt?.status).toBe('COMPLETED');
    expect(receipt?.completedAt).toBeInstanceOf(Date);
    const tasks = rowsOf<{ vendor_reference: string | null; type: string }>(
      await database.db.execute(sql`select vendor_reference, type from outbox_messages
        where workspace_id = ${scope.workspaceId} and change_id = ${item.erasure!.id}`),
    );
    expect(tasks).toHaveLength(3);
    expect(tasks.filter((t) => t.vendor_reference !== null)).toHaveLength(1);

    const after = await dump(scope.workspaceId);
    for (const v of person.values) expect(after, `still holds ${v}`).not.toContain(v);
    for (const v of other.values) expect(after).toContain(v);
    expect(
      await services.profiles.findProfileWith(scope, { externalId: other.externalId }, EVERY_CHILD),
    ).toEqual(otherBefore);
    // The anonymous profile that the undo gave back is someone else now, and stays.
    expect(
      await services.profiles.findProfile(scope, { anonId: person.restoredAnonId }),
    ).not.toBeNull();
    expect(
      await services.profiles.findProfile(scope, { externalId: person.externalId }),
    ).toBeNull();

    // Deliveries about the person were skipped and scrubbed, never sent; everyone else's went.
    const rows = await deliveries(scope.workspaceId);
    const skipped = rows.filter((r) => r.last_error === 'forgotten');
    expect(skipped.length).toBeGreaterThan(0);
    expect(skipped.every((r) => r.status === 'SKIPPED')).toBe(true);
    expect(rows.filter((r) => r.status !== 'SKIPPED').every((r) => r.status === 'DELIVERED')).toBe(
      true,
    );

    // Nobody holds the identifiers now: asked again, NOT_FOUND.
    const again = await services.erasure.forget(scope, {
      users: [{ externalId: person.externalId }],
    });
    expect(again.results[0].outcome).toBe('NOT_FOUND');
    expect(again.results[0].erasure?.identifierCount).toBe(0);
  });

  it('suppresses the fingerprints of every identifier the person held, never the values', async () => {
    const scope = await newScope();
    const person = await aPerson(scope, 'supp');
    const { results } = await services.erasure.forget(scope, {
      users: [{ externalId: person.externalId }],
    });
    const listed = rowsOf<{ fingerprint: string }>(
      await database.db.execute(
        sql`select fingerprint from suppressions where workspace_id = ${scope.workspaceId}`,
      ),
    ).map((r) => r.fingerprint);
    expect(listed.sort()).toEqual([...results[0].erasure!.fingerprints].sort());
    expect(listed.every((f) => /^[0-9a-f]{64}$/.test(f))).toBe(true);
    // Without suppression nothing is listed.
    const other = await aPerson(scope, 'nosupp');
    await services.erasure.forget(scope, {
      users: [{ externalId: other.externalId }],
      suppress: false,
    });
    const count = rowsOf<{ n: number }>(
      await database.db.execute(
        sql`select count(*)::int as n from suppressions where workspace_id = ${scope.workspaceId}`,
      ),
    );
    expect(Number(count[0].n)).toBe(listed.length);
  });

  it('changes nothing in a dry run, rejects bad lookups per item and refuses bad requests whole', async () => {
    const scope = await newScope();
    const person = await aPerson(scope, 'dry');
    const before = await dump(scope.workspaceId);
    const dry = await services.erasure.forget(scope, {
      users: [{ externalId: person.externalId }, { id: 'not-a-uuid' }, { externalId: 'nobody' }],
      dryRun: true,
    });
    expect(dry.dryRun).toBe(true);
    expect(dry.results.map((r) => r.outcome)).toEqual(['FORGOTTEN', 'REJECTED', 'NOT_FOUND']);
    expect(dry.results[1].reason).toMatch(/profile id/);
    expect(await dump(scope.workspaceId)).toBe(before);

    const many = Array.from({ length: 51 }, () => ({ externalId: anExternalId() }));
    await expect(services.erasure.forget(scope, { users: many })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
    });
    await expect(
      services.erasure.forget(scope, {
        users: [{ externalId: person.externalId }],
        reason: 'x'.repeat(201),
      }),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await dump(scope.workspaceId)).toBe(before);
  });

  it('leaves no half of a person when tracking and identification race with the erasure', async () => {
    const scope = await newScope();
    for (let round = 0; round < 3; round++) {
      const person = await aPerson(scope, `race${round}`);
      const [, , firstName, city, secret, token, crm] = person.values;
      const time = new Date();
      const racers = Array.from({ length: 8 }, (_, i) =>
        i % 2 === 0
          ? services.track.track(scope, {
              events: [{ externalId: person.externalId, name: 'again', time }],
            })
          : services.identity.identify(scope, {
              anonIdsToIdentify: [{ externalId: person.externalId, anonId: anAnonId() }],
            }),
      );
      const [forgotten] = await Promise.all([
        services.erasure.forget(scope, { users: [{ externalId: person.externalId }] }),
        ...racers,
      ]);
      expect(forgotten.results[0].outcome).toBe('FORGOTTEN');
      // Whatever committed after the erasure made a new person; nothing of the old one is left.
      const after = await dump(scope.workspaceId);
      for (const v of [firstName, city, secret, token, crm]) expect(after).not.toContain(v);
    }
  });

  it('finds the person in the profile they were merged into after the lookup resolved them', async () => {
    const scope = await newScope();
    const anonId = anAnonId();
    const externalId = anExternalId('survivor');
    await services.track.track(scope, {
      events: [
        { anonId, name: 'browse', time: new Date() },
        { externalId, name: 'visit', time: new Date() },
      ],
    });
    // The lookup resolves the anonymous profile; before the erasure locks it, it is merged away.
    const racing = new ErasureService(database.db, {
      findProfile: async (s, by) => {
        const found = await services.profiles.findProfile(s, by);
        const merged = await services.identity.identify(s, {
          anonIdsToIdentify: [{ externalId, anonId }],
        });
        expect(merged.results[0].outcome).toBe('MERGED');
        return found;
      },
    });
    const { results } = await racing.forget(scope, { users: [{ anonId }] });
    expect(results[0].outcome).toBe('FORGOTTEN');
    expect(results[0].erasure?.identifierCount).toBe(2);
    expect(await services.profiles.findProfile(scope, { externalId })).toBeNull();
    await deliverAll(scope.workspaceId);
    expect(await dump(scope.workspaceId)).not.toContain(anonId);
  });

  it('forgets someone who took the identifier between the lookup and the erasure', async () => {
    const scope = await newScope();
    const externalId = anExternalId('late');
    // The lookup finds nobody; before the erasure starts, a tracking creates the user.
    const racing = new ErasureService(database.db, {
      findProfile: async (s, by) => {
        const found = await services.profiles.findProfile(s, by);
        await services.track.track(s, {
          events: [{ externalId, name: 'arrived', time: new Date() }],
        });
        return found;
      },
    });
    const { results } = await racing.forget(scope, { users: [{ externalId }] });
    expect(results[0].outcome).toBe('FORGOTTEN');
    expect(results[0].erasure?.identifierCount).toBe(1);
    expect(await services.profiles.findProfile(scope, { externalId })).toBeNull();
  });

  it('checks a request against the suppression list by key, however long the list', async () => {
    const scope = await newScope();
    await services.erasure.forget(scope, {
      users: Array.from({ length: 50 }, () => ({ externalId: anExternalId('listed') })),
    });
    const prints = Array.from({ length: 3 }, (_, i) => `${i}`.repeat(64));
    const plan = await explainAnalyze(database.db, suppressedQuery(scope.workspaceId, prints));
    // The workspace's row and one probe per fingerprint, not the 50 entries of the list.
    expect(rowsRead(plan)).toBeLessThanOrEqual(1 + prints.length);
  });

  it('never touches another workspace', async () => {
    const a = await newScope();
    const b = await newScope();
    const person = await aPerson(a, 'iso');
    const result = await services.erasure.forget(b, {
      users: [{ externalId: person.externalId }],
    });
    expect(result.results[0].outcome).toBe('NOT_FOUND');
    expect(
      await services.profiles.findProfile(a, { externalId: person.externalId }),
    ).not.toBeNull();
  });
});
