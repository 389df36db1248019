/**
 * Opens the gateway's database: PGlite in a data folder when no URL is given, else a PostgreSQL
 * server through postgres.js. Both are wrapped in one drizzle type, so the rest of the code does
 * not know which it talks to.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

import type { PGlite } from '@electric-sql/pglite';
import type { Logger } from 'drizzle-orm';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import postgres from 'postgres';

import { DEFAULT_SHARED_BUFFERS_KB, type DatabaseTimeouts } from '../config/config.js';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.js';
import { PreparePolicy, preparing } from './prepared-statements.js';
import * as schema from './schema.js';

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
/** The handle inside `db.transaction`; pass it down, never the outer `db` (PGlite would hang). */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type Queryable = Db | Tx;

export interface Database {
  readonly db: Db;
  /**
   * For short single-statement reads on the hot path (a profile and its children): a small pool
   * of its own on PostgreSQL, where concurrent reads share connections and go out pipelined, a
   * few round trips and system calls for many requests. The embedded database has one session:
   * there it is `db`.
   */
  readonly reads: Db;
  readonly driver: 'pglite' | 'postgres';
  /** Where the data lives, without credentials: a folder or host/database. */
  readonly location: string;
  /** PGlite only: the whole database as a gzipped tarball (tests start from a migrated one). */
  readonly dumpDataDir?: () => Promise<Blob>;
  /**
   * LISTEN on `channel`: `onPayload` gets each NOTIFY committed from now on (on PostgreSQL over
   * a connection of its own, which postgres.js reopens, and listens again, when it drops).
   * Resolves once listening, to the function that stops.
   */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** A postgres:// URL; null opens PGlite. */
  readonly url: string | null;
  /** PGlite's folder; null keeps it in memory (tests). */
  readonly dataDir: string | null;
  readonly poolSize?: number;
  /** Connections of the `reads` pool (PostgreSQL only). */
  readonly readPoolSize?: number;
  /** PGlite only: its `shared_buffers` in kB (DEFAULT_SHARED_BUFFERS_KB when not given). */
  readonly sharedBuffersKb?: number;
  /** PGlite only: start from a dump of an already-migrated database (tests). */
  readonly loadDataDir?: Blob;
  /** Called with every SQL statement drizzle sends (tests count and explain queries with it). */
  readonly onQuery?: (query: string, params: readonly unknown[]) => void;
  /**
   * PostgreSQL only: time limits of every session, sent when a connection opens. The embedded
   * database runs one statement at a time inside this process and has none.
   */
  readonly timeouts?: DatabaseTimeouts;
}

export async function openDatabase(options: OpenOptions): Promise<Database> {
  const logger: Logger | undefined = options.onQuery
    ? { logQuery: (query, params) => options.onQuery?.(query, params) }
    : undefined;
  if (options.url) {
    return openPostgres(
      options.url,
      options.poolSize ?? 10,
      options.readPoolSize ?? 2,
      logger,
      options.timeouts,
    );
  }
  return openPglite(
    options.dataDir,
    options.loadDataDir,
    options.sharedBuffersKb ?? DEFAULT_SHARED_BUFFERS_KB,
    logger,
  );
}

function openPostgres(
  url: string,
  poolSize: number,
  readPoolSize: number,
  logger: Logger | undefined,
  timeouts: DatabaseTimeouts | undefined,
): Database {
  const connection = timeouts ? sessionLimits(timeouts) : {};
  const open = (max: number) => {
    const client = postgres(url, { max, onnotice: () => {}, connection });
    const db = drizzlePostgres(preparing(client, new PreparePolicy()), {
      schema,
      logger,
    }) as unknown as Db;
    return { client, db };
  };
  const main = open(poolSize);
  const reads = open(readPoolSize);
  const parsed = new URL(url);
  return {
    db: main.db,
    reads: reads.db,
    driver: 'postgres',
    location: `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`,
    listen: async (channel, onPayload) => {
      const listening = await main.client.listen(channel, onPayload);
      return async () => {
        await listening.unlisten();
      };
    },
    close: async () => {
      await Promise.all([main.client.end({ timeout: 5 }), reads.client.end({ timeout: 5 })]);
    },
  };
}

/** Startup parameters of a session (0 turns a limit off, as in PostgreSQL). */
function sessionLimits(t: DatabaseTimeouts): Record<string, string> {
  return {
    statement_timeout: String(t.statementMs),
    lock_timeout: String(t.lockMs),
    idle_in_transaction_session_timeout: String(t.idleInTransactionMs),
  };
}

async function openPglite(
  dataDir: string | null,
  loadDataDir: Blob | undefined,
  sharedBuffersKb: number,
  logger: Logger | undefined,
): Promise<Database> {
  let lock: DataDirLock | null = null;
  let pgDir: string | undefined;
  if (dataDir) {
    const dir = path.resolve(dataDir);
    await mkdir(dir, { recursive: true });
    lock = await acquireDataDirLock(dir);
    pgDir = path.join(dir, 'pgdata');
  }
  // Loaded only when used: a gateway on a PostgreSQL server never pays for the embedded one.
  const [{ PGlite: Embedded }, { drizzle: drizzlePglite }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('drizzle-orm/pglite'),
  ]);
  let client: PGlite;
  try {
    client = await Embedded.create({
      dataDir: pgDir,
      loadDataDir,
      startParams: [...Embedded.defaultStartParams, '-c', `shared_buffers=${sharedBuffersKb}kB`],
    });
  } catch (error) {
    lock?.release();
    throw error;
  }
  const db = drizzlePglite(client, { schema, logger }) as unknown as Db;
  return {
    db,
    reads: db,
    driver: 'pglite',
    location: pgDir ?? 'memory',
    dumpDataDir: async () => await client.dumpDataDir('gzip'),
    listen: async (channel, onPayload) => {
      const unlisten = await client.listen(channel, onPayload);
      return async () => {
        await unlisten();
      };
    },
    close: async () => {
      try {
        await client.close();
      } finally {
        lock?.release();
      }
    },
  };
}
