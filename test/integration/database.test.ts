import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { eq, sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';

import { openDatabase } from '../../src/db/client.js';
import { acquireDataDirLock, DataDirLockedError } from '../../src/db/data-dir-lock.js';
import { expectedMigrationCount, migrationsApplied, runMigrations } from '../../src/db/migrate.js';
import { rowsOf } from '../../src/db/rows.js';
import { workspaces } from '../../src/db/schema.js';
import { uuidv7 } from '../../src/lib/uuid.js';
import { createScratchDatabase, openTestDatabase, testDatabaseUrl } from '../helpers/database.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

/**
 * A separate process that takes the folder's lock and keeps it until killed; rejects when the
 * child could not take it (it exits with the error).
 */
function holdInChild(dir: string): Promise<ChildProcess> {
  const code = `
    import { acquireDataDirLock } from './src/db/data-dir-lock.ts';
    await acquireDataDirLock(${JSON.stringify(dir)});
    console.log('locked');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('locked')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`the child exited with ${code}`)));
  });
}

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

  it('runs with the buffer cache it is given, 16 MB unless told', async () => {
    const setting = async (sharedBuffersKb?: number) => {
      const dir = await tempDir();
      const database = await openDatabase({ url: null, dataDir: dir, sharedBuffersKb });
      try {
        const [row] = rowsOf<{ shared_buffers: string }>(
          await database.db.execute(sql`show shared_buffers`),
        );
        return row?.shared_buffers;
      } finally {
        await database.close();
      }
    };
    expect(await setting()).toBe('16MB');
    expect(await setting(512)).toBe('512kB');
  });

  it('refuses a second opener of the same folder while the first holds it', async () => {
    const dir = await tempDir();
    const first = await openDatabase({ url: null, dataDir: dir });
    cleanup.push(() => first.close());
    await expect(openDatabase({ url: null, dataDir: dir })).rejects.toBeInstanceOf(
      DataDirLockedError,
    );
  });

  it('takes over an old lock file, even one that names this very pid', async () => {
    // A restarted container's gateway often has the pid its predecessor had; no pid is trusted.
    const dir = await tempDir();
    await writeFile(path.join(dir, 'gateway.lock'), String(process.pid));
    const lock = await acquireDataDirLock(dir);
    lock.release();
    const again = await acquireDataDirLock(dir);
    again.release();
  });

  it('is free again once the process holding it is killed', async () => {
    const dir = await tempDir();
    const holder = await holdInChild(dir);
    await expect(acquireDataDirLock(dir)).rejects.toThrow(
      new RegExp(`in use by another gateway process \\(pid ${holder.pid}\\)`),
    );
    holder.kill('SIGKILL');
    await once(holder, 'exit');
    // The socket file is still there; nobody answers on it any more.
    expect(existsSync(path.join(dir, 'gateway.lock'))).toBe(true);
    const lock = await acquireDataDirLock(dir);
    lock.release();
  });

  it('gives the folder to exactly one of many processes starting at once', async () => {
    const dir = await tempDir();
    const results = await Promise.all(
      Array.from({ length: 4 }, () =>
        holdInChild(dir).then(
          (child) => ({ child, ok: true }),
          () => ({ child: null, ok: false }),
        ),
      ),
    );
    for (const r of results) if (r.child) cleanup.push(async () => void r.child.kill('SIGKILL'));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
  });

  it('names the process that holds the folder', async () => {
    const dir = await tempDir();
    const lock = await acquireDataDirLock(dir);
    cleanup.push(async () => lock.release());
    await expect(acquireDataDirLock(dir)).rejects.toThrow(
      new RegExp(`in use by another gateway process \\(pid ${process.pid}\\)`),
    );
  });
});
