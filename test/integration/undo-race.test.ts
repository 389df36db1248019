/**
 * undoMerge against trackUsers and identifyUsers on the absorbed profile's anon id, in the
 * window where the undo has started but not committed. The interleaving is forced, not hoped
 * for: another session holds the survivor's row lock until the undo and the other request are
 * both waiting for locks (seen in pg_stat_activity), then lets go. Tracked data must land on
 * the profile that holds the anon id when the tracking commits, and an identification must find
 * the restored profile. PostgreSQL only: the embedded database runs one session.
 */
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Database } from '../../src/db/client.js';
import { rowsOf } from '../../src/db/rows.js';
import { createServices } from '../../src/gateway.js';
import type { Services } from '../../src/http/context.js';
import { anAnonId, anExternalId } from '../helpers/builders.js';
import { testConfig } from '../helpers/config.js';
import { onPostgres, openOwnDatabase } from '../helpers/database.js';
import { holdLocks } from '../helpers/held-locks.js';

const ROUNDS = 5;

describe.runIf(onPostgres)('undoMerge racing other writers of the absorbed identifiers', () => {
  // A database of its own: the lock waits counted below are this file's only.
  let own: Awaited<ReturnType<typeof openOwnDatabase>>;
  let database: Database;
  let services: Services;
  let blocker: postgres.Sql;
  let watcher: postgres.Sql;
  beforeAll(async () => {
    own = await openOwnDatabase('undo_race', { poolSize: 10 });
    database = own.database;
    services = createServices(database, testConfig());
    blocker = postgres(own.url!, { max: 1, onnotice: () => {} });
    watcher = postgres(own.url!, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await blocker?.end();
    await watcher?.end();
    await own?.close();
  });

  /** An identified user and an anonymous one merged into it; ids and the merge id. */
  async function merged() {
    const { workspace } = await services.auth.createWorkspace({ name: anExternalId('ws') });
    const scope = { workspaceId: workspace.id, anonIdLabel: workspace.anonIdLabel };
    const externalId = anExternalId();
    const anonId = anAnonId();
    const time = new Date(Date.now() - 60_000);
    await services.track.track(scope, {
      events: [
        { externalId, name: 'known', time },
        { anonId, name: 'anonymous', time },
      ],
    });
    const anonymous = await services.profiles.findProfile(scope, { anonId });
    const { results } = await services.identity.identify(scope, {
      anonIdsToIdentify: [{ externalId, anonId }],
    });
    expect(results[0].outcome).toBe('MERGED');
    const survivor = await services.profiles.findProfile(scope, { externalId });
    return {
      scope,
      externalId,
      anonId,
      survivorId: survivor!.id,
      absorbedId: anonymous!.id,
      mergeId: results[0].changeId!,
    };
  }

  /** Backends of this database waiting for a lock. */
  async function waiting(): Promise<number> {
    const [row] = await watcher<{ n: number }[]>`
      select count(*)::int as n from pg_stat_activity
      where datname = current_database() and wait_event_type = 'Lock'`;
    return row.n;
  }

  async function until(n: number): Promise<void> {
    while ((await waiting()) < n) await new Promise((r) => setTimeout(r, 5));
  }

  /** Runs `undo` and then `other` while the survivor's row is held, and lets go once both wait. */
  async function interleave<T>(
    workspaceId: string,
    survivorId: string,
    undo: () => Promise<unknown>,
    other: () => Promise<T>,
  ): Promise<T> {
    const release = await holdLocks(
      blocker,
      (tx) => tx`select id from profiles
        where workspace_id = ${workspaceId} and id = ${survivorId} for update`,
    );
    const undone = undo();
    await until(1);
    const result = other();
    await until(2);
    await release();
    await undone;
    return result;
  }

  async function eventsOf(workspaceId: string, profileId: string): Promise<string[]> {
    return rowsOf<{ name: string }>(
      await database.db.execute(sql`
        select name from event_summaries
        where workspace_id = ${workspaceId} and profile_id = ${profileId} order by name`),
    ).map((r) => r.name);
  }

  it(`puts tracking that commits after the undo on the restored profile (${ROUNDS} rounds)`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const m = await merged();
      await interleave(
        m.scope.workspaceId,
        m.survivorId,
        () => services.undo.undo(m.scope, m.mergeId),
        () =>
          services.track.track(m.scope, {
            events: [{ anonId: m.anonId, name: 'during', time: new Date() }],
          }),
      );
      const holder = await services.profiles.findProfile(m.scope, { anonId: m.anonId });
      expect(holder?.id, `round ${round}: the anon id is back with its profile`).toBe(m.absorbedId);
      expect(await eventsOf(m.scope.workspaceId, m.absorbedId)).toEqual(['anonymous', 'during']);
      expect(await eventsOf(m.scope.workspaceId, m.survivorId)).toEqual(['known']);
    }
  });

  it(`finds the restored profile for an identification during the undo (${ROUNDS} rounds)`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const m = await merged();
      const other = anExternalId();
      const { results } = await interleave(
        m.scope.workspaceId,
        m.survivorId,
        () => services.undo.undo(m.scope, m.mergeId),
        () =>
          services.identity.identify(m.scope, {
            anonIdsToIdentify: [{ externalId: other, anonId: m.anonId }],
          }),
      );
      // The undo committed first: the anon id is on its anonymous profile again, which the
      // identification then gives the new external id.
      expect(results[0].outcome, `round ${round}`).toBe('IDENTIFIED');
      const holder = await services.profiles.findProfile(m.scope, { anonId: m.anonId });
      expect(holder).toMatchObject({ id: m.absorbedId, externalId: other });
    }
  });
});
