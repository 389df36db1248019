/**
 * The database a test file runs on: the run's fresh PostgreSQL database when DATABASE_URL is set,
 * else an in-memory PGlite started from the migrated template.
 */
import { readFile } from 'node:fs/promises';

import postgres from 'postgres';
import { inject } from 'vitest';

import type { DatabaseTimeouts } from '../../src/config/config.js';
import { openDatabase, type Database } from '../../src/db/client.js';
import { runMigrations } from '../../src/db/migrate.js';
import { recordStatement } from './statement-recorder.js';
import { assertTestDatabase } from './test-database-guard.js';

export const onPostgres = inject('databaseUrl') !== null;

export interface TestDatabaseOptions {
  readonly onQuery?: (query: string, params: readonly unknown[]) => void;
  readonly poolSize?: number;
  readonly timeouts?: DatabaseTimeouts;
}

/** The caller's statement hook, after the Citus lint has seen the statement. */
function linted(options: TestDatabaseOptions): TestDatabaseOptions['onQuery'] {
  const own = options.onQuery;
  return (query, params) => {
    recordStatement(query, params);
    own?.(query, params);
  };
}

export async function openTestDatabase(options: TestDatabaseOptions = {}): Promise<Database> {
  const url = inject('databaseUrl');
  if (url) {
    assertTestDatabase(url);
    return openDatabase({
      url,
      dataDir: null,
      poolSize: options.poolSize ?? 20,
      onQuery: linted(options),
      timeouts: options.timeouts,
    });
  }
  const template = inject('pgliteTemplate');
  if (!template) throw new Error('the test run has no database template');
  const loadDataDir = new Blob([await readFile(template)]);
  return openDatabase({ url: null, dataDir: null, loadDataDir, onQuery: linted(options) });
}

/** The URL of the run's PostgreSQL database, or null on the embedded database. */
export function testDatabaseUrl(): string | null {
  return inject('databaseUrl');
}

/**
 * A database of its own on the run's PostgreSQL server (for tests that must not share one), and
 * the function that drops it.
 */
export async function createScratchDatabase(
  prefix: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = testDatabaseUrl();
  if (!base) throw new Error('a scratch database needs DATABASE_URL');
  const name = `igw_test_${prefix}_${Date.now()}_${Math.random().toString(16).slice(2, 8)}`;
  const url = new URL(base);
  url.pathname = `/${name}`;
  assertTestDatabase(url.toString());
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  return {
    url: url.toString(),
    drop: async () => {
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end();
    },
  };
}

/**
 * A database no other test file shares: a scratch PostgreSQL database (migrated) when the run is
 * on PostgreSQL, else the file's own in-memory PGlite. For tests whose dispatchers must not take
 * other files' deliveries, nor have theirs taken.
 */
export async function openOwnDatabase(
  prefix: string,
  options: TestDatabaseOptions = {},
): Promise<{ database: Database; url: string | null; close: () => Promise<void> }> {
  if (!testDatabaseUrl()) {
    const database = await openTestDatabase(options);
    return { database, url: null, close: () => database.close() };
  }
  const scratch = await createScratchDatabase(prefix);
  const database = await openDatabase({
    url: scratch.url,
    dataDir: null,
    poolSize: options.poolSize ?? 10,
    onQuery: linted(options),
  });
  await runMigrations(database, scratch.url);
  return {
    database,
    url: scratch.url,
    close: async () => {
      await database.close();
      await scratch.drop();
    },
  };
}
