/**
 * What does not grow without bound: idempotency records expire after IDEMPOTENCY_TTL_HOURS and
 * are then deleted in batches; daily event counts older than the read window are deleted by the
 * writes that touch their profile (tracking and merges).
 */
import { sql } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Database } from '../../src/db/client.js';
import { rowsOf } from '../../src/db/rows.js';
import { createServices } from '../../src/gateway.js';
import type { Services } from '../../src/http/context.js';
import { deleteExpiredIdempotencyKeys } from '../../src/identity/store/idempotency-retention.js';
import { firstDayOfWindow } from '../../src/identity/track-aggregate.js';
import { DEFAULT_DISPATCHER_OPTIONS, Dispatcher } from '../../src/outbox/dispatcher.js';
import { anAnonId, anExternalId } from '../helpers/builders.js';
import { testConfig } from '../helpers/config.js';
import { openOwnDatabase } from '../helpers/database.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let own: Awaited<ReturnType<typeof openOwnDatabase>>;
let database: Database;
let services: Services;
let now = Date.now();
beforeAll(async () => {
  own = await openOwnDatabase('retention');
  database = own.database;
  services = createServices(database, testConfig({ IDEMPOTENCY_TTL_HOURS: '1' }), () => {
    return new Date(now);
  });
});
afterAll(async () => {
  await own?.close();
});

async function newScope() {
  const { workspace } = await services.auth.createWorkspace({ name: anExternalId('ws') });
  return { workspaceId: workspace.id, anonIdLabel: workspace.anonIdLabel };
}

describe('idempotency records', () => {
  it('answer repeats until IDEMPOTENCY_TTL_HOURS, then the key is free again', async () => {
    now = Date.now();
    const scope = await newScope();
    const idempotencyKey = `k-${anExternalId()}`;
    const first = { anonIdsToIdentify: [{ externalId: anExternalId(), anonId: anAnonId() }] };
    const other = { anonIdsToIdentify: [{ externalId: anExternalId(), anonId: anAnonId() }] };
    await services.track.track(scope, {
      events: [
        { anonId: first.anonIdsToIdentify[0].anonId, name: 'seen', time: new Date(now - 1000) },
        { anonId: other.anonIdsToIdentify[0].anonId, name: 'seen', time: new Date(now - 1000) },
      ],
    });
    const a = await services.identity.identify(scope, { ...first, idempotencyKey });
    expect(a.results[0].outcome).toBe('IDENTIFIED');

    now += 30 * 60_000;
    await expect(
      services.identity.identify(scope, { ...other, idempotencyKey }),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
    // A repeat within the hour is answered from the record, not run again (which would say
    // UNCHANGED).
    expect((await services.identity.identify(scope, { ...first, idempotencyKey })).results).toEqual(
      a.results,
    );

    now += 2 * HOUR;
    const b = await services.identity.identify(scope, { ...other, idempotencyKey });
    expect(b.results[0].outcome).toBe('IDENTIFIED');
    now += 60_000;
    expect((await services.identity.identify(scope, { ...other, idempotencyKey })).results).toEqual(
      b.results,
    );
  });

  it('are deleted once expired, in batches, by the retention pass', async () => {
    now = Date.now();
    const scope = await newScope();
    const ws = scope.workspaceId;
    await database.db.execute(sql`
      insert into idempotency_keys (workspace_id, key, operation, request_hash, result, created_at)
      select ${ws}::uuid, 'k' || n, 'identifyUsers', 'h', '{}'::jsonb,
        ${new Date(now).toISOString()}::timestamptz - (n || ' hours')::interval
      from generate_series(0, 6) as n`);
    const dispatcher = new Dispatcher(
      database.db,
      pino({ level: 'silent' }),
      { ...DEFAULT_DISPATCHER_OPTIONS, retentionBatchSize: 2 },
      {
        clock: () => new Date(now),
        sweep: (workspaceId, at, limit) =>
          deleteExpiredIdempotencyKeys(
            database.db,
            workspaceId,
            new Date(at.getTime() - HOUR),
            limit,
          ),
      },
    );
    await dispatcher.retain();
    const left = rowsOf<{ key: string }>(
      await database.db.execute(
        sql`select key from idempotency_keys where workspace_id = ${ws} order by key`,
      ),
    ).map((r) => r.key);
    // k0 is fresh; k1 is exactly an hour old (not older); k2..k6 are gone.
    expect(left).toEqual(['k0', 'k1']);
  });
});

describe('daily event counts', () => {
  async function daysOf(ws: string, profileId: string): Promise<string[]> {
    return rowsOf<{ day: string }>(
      await database.db.execute(sql`
        select day::text as day from event_daily_counts
        where workspace_id = ${ws} and profile_id = ${profileId} order by day`),
    ).map((r) => r.day);
  }

  it('older than the read window are deleted by tracking and by merges', async () => {
    const scope = await newScope();
    const ws = scope.workspaceId;
    const externalId = anExternalId();
    const anonId = anAnonId();
    const today = Date.now();
    // Forty days ago both users were active.
    now = today - 40 * DAY;
    await services.track.track(scope, {
      events: [
        { externalId, name: 'visit', time: new Date(now - 1000) },
        { anonId, name: 'visit', time: new Date(now - 1000) },
      ],
    });
    const known = (await services.profiles.findProfile(scope, { externalId }))!.id;
    const anonymous = (await services.profiles.findProfile(scope, { anonId }))!.id;
    expect(await daysOf(ws, known)).toHaveLength(1);
    expect(await daysOf(ws, anonymous)).toHaveLength(1);

    // Today: tracking the known user deletes its old day; merging deletes the anonymous one's.
    now = today;
    await services.track.track(scope, {
      events: [{ externalId, name: 'visit', time: new Date(now - 1000) }],
    });
    const first = firstDayOfWindow(new Date(now));
    expect((await daysOf(ws, known)).every((d) => d >= first)).toBe(true);
    expect(await daysOf(ws, known)).toHaveLength(1);
    expect(await daysOf(ws, anonymous)).toHaveLength(1);

    const { results } = await services.identity.identify(scope, {
      anonIdsToIdentify: [{ externalId, anonId }],
    });
    expect(results[0].outcome).toBe('MERGED');
    expect(await daysOf(ws, anonymous)).toEqual([]);
    expect((await daysOf(ws, known)).every((d) => d >= first)).toBe(true);
  });
});

describe('the merge journal', () => {
  it('keeps what an undo needs: the survivor’s changed fields only, the absorbed profile whole', async () => {
    const scope = await newScope();
    const ws = scope.workspaceId;
    const externalId = anExternalId();
    const anonId = anAnonId();
    now = Date.now();
    const time = new Date(now - 1000);
    // A survivor with a long history of its own: many events and aliases the merge leaves alone.
    await services.track.track(scope, {
      events: Array.from({ length: 40 }, (_, i) => ({ externalId, name: `event-${i}`, time })),
      attributes: [{ externalId, firstName: 'Ann' }],
    });
    await services.aliases.createAliases(
      scope,
      Array.from({ length: 20 }, (_, i) => ({
        externalId,
        aliasLabel: 'crm',
        aliasName: `${externalId}-${i}`,
      })),
    );
    await services.track.track(scope, {
      events: [{ anonId, name: 'event-0', time }],
      attributes: [{ anonId, lastName: 'Lee' }],
    });
    const { results } = await services.identity.identify(scope, {
      anonIdsToIdentify: [{ externalId, anonId }],
    });
    expect(results[0].outcome).toBe('MERGED');
    const [row] = rowsOf<{ survivor: any; absorbed: any }>(
      await database.db.execute(sql`
        select survivor_before as survivor, absorbed_before as absorbed from merges
        where workspace_id = ${ws} and id = ${results[0].mergeId}`),
    );
    const survivor = typeof row.survivor === 'string' ? JSON.parse(row.survivor) : row.survivor;
    const absorbed = typeof row.absorbed === 'string' ? JSON.parse(row.absorbed) : row.absorbed;
    expect(survivor.aliases).toEqual([]);
    expect(survivor.events.map((e: { name: string }) => e.name)).toEqual(['event-0']);
    expect(survivor.attributes.firstName).toBeNull();
    expect(absorbed.aliases.map((a: { aliasName: string }) => a.aliasName)).toEqual([anonId]);
    expect(absorbed.attributes.lastName).toBe('Lee');

    // And the undo puts both back from it.
    const undone = await services.undo.undo(scope, results[0].mergeId!);
    expect(undone.undoneAt).not.toBeNull();
    const back = await services.profiles.findProfile(scope, { externalId });
    expect(back?.id).not.toBe((await services.profiles.findProfile(scope, { anonId }))?.id);
  });
});
