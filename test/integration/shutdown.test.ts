import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';

import { AuthService } from '../../src/auth/auth-service.js';
import { openDatabase, type Database } from '../../src/db/client.js';
import { runMigrations } from '../../src/db/migrate.js';
import { rowsOf } from '../../src/db/rows.js';
import { packageRoot } from '../../src/lib/package-root.js';
import { createScratchDatabase, testDatabaseUrl } from '../helpers/database.js';
import { seedBacklog } from '../helpers/outbox-backlog.js';
import { startBrazeStub, type VendorStub } from '../helpers/vendor-stubs.js';

const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

/** The gateway's database, as the process will open it: PGlite in a folder or a scratch server one. */
async function gatewayDatabase(): Promise<{
  env: Record<string, string>;
  open: () => Promise<Database>;
}> {
  if (testDatabaseUrl()) {
    const scratch = await createScratchDatabase('shutdown');
    cleanup.push(scratch.drop);
    return {
      env: { DATABASE_URL: scratch.url },
      open: async () => {
        const database = await openDatabase({ url: scratch.url, dataDir: null });
        await runMigrations(database, scratch.url);
        return database;
      },
    };
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'igw-shutdown-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return {
    env: { DATA_DIR: dir },
    open: async () => {
      const database = await openDatabase({ url: null, dataDir: dir });
      await runMigrations(database, null);
      return database;
    },
  };
}

describe('SIGTERM while the outbox drains a large backlog', () => {
  it('stops the process promptly, releases every claimed row and loses none', async () => {
    const braze: VendorStub = await startBrazeStub('bk');
    braze.fallback = { kind: 'hang' }; // every request waits; only cancelling them ends a stop
    cleanup.push(() => braze.close());
    const target = await gatewayDatabase();

    let database = await target.open();
    const { workspace } = await new AuthService(database.db).createWorkspace({
      name: 'drain',
      braze: { apiKey: 'bk', restEndpoint: braze.url },
    });
    const total = await seedBacklog(database.db, {
      workspaceId: workspace.id,
      profiles: 5_000,
      perProfile: 2,
      vendors: ['BRAZE'],
    });
    await database.close();

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...target.env,
      PORT: '0', // any free port: the test talks to the vendor stub, not to the gateway
      BOOTSTRAP_API_KEY: 'igw_shutdown_test_key_0123456789',
      VENDOR_TIMEOUT_MS: '60000', // longer than this test may take
      OUTBOX_POLL_MS: '50',
      LOG_LEVEL: 'warn',
    };
    if (!target.env['DATABASE_URL']) delete env['DATABASE_URL'];
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: packageRoot(),
      env,
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    cleanup.push(async () => void child.kill('SIGKILL'));
    for (let i = 0; i < 600 && braze.requests.length < 4; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(braze.requests.length, output).toBeGreaterThanOrEqual(4);

    const stopAsked = Date.now();
    child.kill('SIGTERM');
    expect(await exited, output).toBe(0);
    process.stdout.write(`gateway stopped ${Date.now() - stopAsked} ms after SIGTERM\n`);

    database = await target.open();
    cleanup.push(() => database.close());
    const [row] = rowsOf<Record<string, number>>(
      await database.db.execute(sql`
        select count(*)::int as n,
               count(*) filter (where status = 'PENDING')::int as pending,
               count(*) filter (where claimed_by is not null)::int as claimed,
               count(*) filter (where attempts <> 0)::int as charged,
               count(*) filter (where not parked)::int as heads
        from outbox_messages where workspace_id = ${workspace.id}`),
    );
    expect(row).toEqual({ n: total, pending: total, claimed: 0, charged: 0, heads: 5_000 });
  }, 60_000);
});
