import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { eq } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';

import { openDatabase } from '../../src/db/client.js';
import { acquireDataDirLock, DataDirLockedError } from '../../src/db/data-dir-lock.js';
import { expectedMigrationCount, migrationsApplied, runMigrations } from '../../src/db/migrate.js';
import { workspaces } from '../../src/db/schema.js';
import { uuidv7 } from '../../src/lib/uuid.js';
import { createScratchDatabase, openTestDatabase, testDatabaseUrl } from '../helpers/database.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'igw-data-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('migrations', () => {
  it('are all applied to the test database and re-running them changes nothing', async () => {
    const database = await openTestDatabase();
    cleanup.push(() => database.close());
    expect(expectedMigrationCount()).toBeGreaterThan(0);
    expect(await migrationsApplied(database)).toBe(true);
    await runMigrations(database, testDatabaseUrl());
    expect(await migrationsApplied(database)).toBe(true);
  });

  it.runIf(testDatabaseUrl() !== null)(
    'can run from several processes at once on a fresh PostgreSQL database',
    async () => {
      const scratch = await createScratchDatabase('migrate');
      cleanup.push(scratch.drop);
      const url = new URL(scratch.url);
      const handles = await Promise.all(
        [1, 2, 3, 4].map(() => openDatabase({ url: url.toString(), dataDir: null, poolSize: 2 })),
      );
      cleanup.push(async () => {
        await Promise.all(handles.map((h) => h.close()));
      });
      await Promise.all(handles.map((h) => runMigrations(h, url.toString())));
      for (const h of handles) expect(await migrationsApplied(h)).toBe(true);
    },
  );
});

describe('the embedded database in a data folder', () => {
  it('keeps its data across a restart', async () => {
    const dir = await tempDir();
    const id = uuidv7();
    const first = await openDatabase({ url: null, dataDir: dir });
    await runMigrations(first, null);
    await first.db.insert(workspaces).values({ id, name: 'kept' });
    await first.close();

    const second = await openDatabase({ url: null, dataDir: dir });
    cleanup.push(() => second.close());
    expect(await migrationsApplied(second)).toBe(true);
    const rows = await second.db.select().from(workspaces).where(eq(workspaces.id, id));
    expect(rows.map((r) => r.name)).toEqual(['kept']);
  });

  it('refuses a second opener of the same folder while the first holds it', async () => {
    const dir = await tempDir();
    const first = await openDatabase({ url: null, dataDir: dir });
    cleanup.push(() => first.close());
    await expect(openDatabase({ url: null, dataDir: dir })).rejects.toBeInstanceOf(
      DataDirLockedError,
    );
  });

  it('takes over a lock left behind by a process that is gone', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'gateway.lock'), '2147483646');
    const lock = acquireDataDirLock(dir);
    lock.release();
    const again = acquireDataDirLock(dir);
    again.release();
  });

  it('names the process that holds the folder', async () => {
    const dir = await tempDir();
    const lock = acquireDataDirLock(dir);
    cleanup.push(async () => lock.release());
    expect(() => acquireDataDirLock(dir)).toThrow(/in use by another gateway process \(pid \d+\)/);
  });
});
