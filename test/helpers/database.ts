/**
 * The database a test file runs on: the run's fresh PostgreSQL database when DATABASE_URL is set,
 * else an in-memory PGlite started from the migrated template.
 */
import { readFile } from 'node:fs/promises';

import { inject } from 'vitest';

import { openDatabase, type Database } from '../../src/db/client.js';
import { assertTestDatabase } from './test-database-guard.js';

export const onPostgres = inject('databaseUrl') !== null;

export interface TestDatabaseOptions {
  readonly onQuery?: (query: string) => void;
  readonly poolSize?: number;
}

export async function openTestDatabase(options: TestDatabaseOptions = {}): Promise<Database> {
  const url = inject('databaseUrl');
  if (url) {
    assertTestDatabase(url);
    return openDatabase({
      url,
      dataDir: null,
      poolSize: options.poolSize ?? 20,
      onQuery: options.onQuery,
    });
  }
  const template = inject('pgliteTemplate');
  if (!template) throw new Error('the test run has no database template');
  const loadDataDir = new Blob([await readFile(template)]);
  return openDatabase({ url: null, dataDir: null, loadDataDir, onQuery: options.onQuery });
}

/** The URL of the run's PostgreSQL database, or null on the embedded database. */
export function testDatabaseUrl(): string | null {
  return inject('databaseUrl');
}
