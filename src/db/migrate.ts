/**
 * Applies the generated migrations in drizzle/. On PostgreSQL several gateway processes may start
 * at once, and drizzle's migrator is not safe to run concurrently, so it runs under a
 * session-level advisory lock on a dedicated connection. On a database with the `citus`
 * extension the tables are then made reference or distributed tables (see distribution.ts),
 * under the same lock.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { type drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';

import { packageRoot } from '../lib/package-root.js';
import type { Database } from './client.js';
import { distributeIfCitus } from './distribution.js';
import { rowsOf } from './rows.js';

export const migrationsFolder = path.join(packageRoot(), 'drizzle');

/** An arbitrary constant shared by every gateway process: the key of the migration lock. */
const MIGRATION_LOCK_KEY = 7_364_021_911;

export async function runMigrations(database: Database, url: string | null): Promise<void> {
  if (database.driver === 'pglite') {
    // PGlite is reachable from this process only (the data folder is locked), so no race.
    const { migrate: migratePglite } = await import('drizzle-orm/pglite/migrator');
    await migratePglite(database.db as unknown as ReturnType<typeof drizzlePglite>, {
      migrationsFolder,
    });
    return;
  }
  if (!url) throw new Error('a PostgreSQL database needs its URL to migrate');
  const client = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await client`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    try {
      const db = drizzlePostgres(client);
      await migratePostgres(db, { migrationsFolder });
      await distributeIfCitus(db);
    } finally {
      await client`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`;
    }
  } finally {
    await client.end({ timeout: 5 });
  }
}

/** Number of migrations in drizzle/ (from drizzle-kit's journal). */
export function expectedMigrationCount(): number {
  const journal = JSON.parse(
    readFileSync(path.join(migrationsFolder, 'meta', '_journal.json'), 'utf8'),
  ) as { entries: unknown[] };
  return journal.entries.length;
}

/** True when every migration in drizzle/ has been applied to this database. */
export async function migrationsApplied(database: Database): Promise<boolean> {
  try {
    const [row] = rowsOf<{ n: number }>(
      await database.db.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`),
    );
    return Number(row?.n ?? 0) >= expectedMigrationCount();
  } catch {
    return false;
  }
}
