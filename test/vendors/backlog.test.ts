import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';

import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';

import { AuthService } from '../../src/auth/auth-service.js';
import { openDatabase } from '../../src/db/client.js';
import { runMigrations } from '../../src/db/migrate.js';
import { rowsOf } from '../../src/db/rows.js';
import { packageRoot } from '../../src/lib/package-root.js';
import { enqueueIdentityChanges, type IdentifiedChange } from '../../src/outbox/enqueue.js';
import { outboxMessages } from '../../src/outbox/outbox.sql.js';
import { createScratchDatabase, testDatabaseUrl } from '../helpers/database.js';
import { startBrazeStub, startMixpanelStub, type VendorStub } from '../helpers/vendor-stubs.js';

const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

function runDispatcher(url: string): Promise<{ finished: number; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/run-dispatcher.ts'], {
      cwd: packageRoot(),
      env: { ...process.env, DATABASE_URL: url, IDLE_MS: '1500', BATCH_SIZE: '150' },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{"finished"'));
      resolve({ finished: line ? (JSON.parse(line) as { finished: number }).finished : -1, code });
    });
  });
}

describe('two dispatchers in two processes on PostgreSQL', () => {
  it.runIf(testDatabaseUrl() !== null)(
    'deliver a backlog of 5,000 rows with no row sent twice and none missed',
    async () => {
      // A database of its own, so no other test's dispatcher takes part.
      const scratch = await createScratchDatabase('backlog');
      cleanup.push(scratch.drop);
      const url = new URL(scratch.url);
      const database = await openDatabase({ url: url.toString(), dataDir: null });
      cleanup.push(() => database.close());
      await runMigrations(database, url.toString());

      const braze: VendorStub = await startBrazeStub('k');
      const mixpanel: VendorStub = await startMixpanelStub('t');
      cleanup.push(
        () => braze.close(),
        () => mixpanel.close(),
      );
      const { workspace } = await new AuthService(database.db).createWorkspace({
        name: 'backlog',
        braze: { apiKey: 'k', restEndpoint: braze.url },
        mixpanel: {
          token: 't',
          apiHost: mixpanel.url,
          idMerge: 'ORIGINAL',
          serviceAccount: null,
          projectId: null,
        },
      });
      const changes: IdentifiedChange[] = Array.from({ length: 2500 }, (_, i) => {
        const anonId = randomUUID();
        return {
          kind: 'identified',
          index: 0,
          mergeId: null,
          changeId: randomUUID(),
          externalId: `user-${i}`,
          profileId: randomUUID(),
          absorbedProfileId: null,
          behavior: 'MERGE',
          identifier: { kind: 'anonId', anonId },
          anonIds: [anonId],
          aliases: [],
          survivorAliasLabels: [],
        };
      });
      await database.db.transaction((tx) =>
        enqueueIdentityChanges(
          tx,
          { workspaceId: workspace.id, anonIdLabel: 'anon_id', now: new Date() },
          changes,
        ),
      );
      const rows = await database.db.select({ id: outboxMessages.id }).from(outboxMessages);
      expect(rows).toHaveLength(5000);

      // Both vendors hold every request until each process has claimed a batch, so both take
      // part in the drain whichever starts first or runs faster.
      braze.fallback = { kind: 'hang' };
      mixpanel.fallback = { kind: 'hang' };
      const running = Promise.all([runDispatcher(url.toString()), runDispatcher(url.toString())]);
      for (;;) {
        const [row] = rowsOf<{ n: number }>(
          await database.db.execute(sql`
            select count(distinct claimed_by)::int as n from outbox_messages
            where workspace_id = ${workspace.id} and claimed_by is not null`),
        );
        if (Number(row?.n) >= 2) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      braze.fallback = { kind: 'ok' };
      mixpanel.fallback = { kind: 'ok' };
      braze.releaseHanging('success');
      mixpanel.releaseHanging('success');
      const [a, b] = await running;
      expect([a.code, b.code]).toEqual([0, 0]);
      expect(a.finished).toBeGreaterThan(0);
      expect(b.finished).toBeGreaterThan(0);
      expect(a.finished + b.finished).toBe(5000);

      const statuses = await database.db
        .select({ status: outboxMessages.status })
        .from(outboxMessages);
      expect(statuses.every((r) => r.status === 'DELIVERED')).toBe(true);
      const sentToBraze = braze.requests.flatMap((r) =>
        (r.payload.aliases_to_identify ?? []).map(
          (e: { user_alias: { alias_name: string } }) => e.user_alias.alias_name,
        ),
      );
      const sentToMixpanel = mixpanel.requests.flatMap((r) =>
        (r.payload as { properties: { $anon_id: string } }[]).map((e) => e.properties.$anon_id),
      );
      const expected = changes.map((c) => c.anonIds[0]).sort();
      expect([...sentToBraze].sort()).toEqual(expected);
      expect([...sentToMixpanel].sort()).toEqual(expected);
      expect(braze.requests.every((r) => r.violations.length === 0 && r.answer === 'ok')).toBe(
        true,
      );
    },
    120_000,
  );
});
