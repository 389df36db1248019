/** Liveness and readiness: the process answers; the database answers and is fully migrated. */
import { sql } from 'drizzle-orm';

import type { Database } from '../db/client.js';
import { migrationsApplied } from '../db/migrate.js';

export interface HealthReport {
  readonly status: 'ok' | 'unavailable';
  /** Each check's result: 'ok', or what is wrong. */
  readonly checks: Record<string, string>;
}

export async function readiness(database: Database): Promise<HealthReport> {
  const checks: Record<string, string> = {};
  try {
    await database.db.execute(sql`select 1`);
    checks['database'] = 'ok';
    checks['migrations'] = (await migrationsApplied(database)) ? 'ok' : 'pending';
  } catch {
    checks['database'] = 'unreachable';
  }
  const ok = Object.values(checks).every((c) => c === 'ok');
  return { status: ok ? 'ok' : 'unavailable', checks };
}
