/**
 * A database the gateway is measured on, with its gateway process: a scratch database on the
 * PostgreSQL server, or a fresh embedded-database folder (seeded before the gateway starts,
 * since the gateway locks the folder). Keeps the pool of anonymous users that identify runs
 * consume, seeding more before a run when it could run short.
 */
import 'reflect-metadata';

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { openDatabase, type Database } from '../src/db/client.js';
import { runMigrations } from '../src/db/migrate.js';
import { scratchDatabase } from './processes.js';
import {
  analyze,
  createBenchWorkspace,
  seedAnonymous,
  seedIdentified,
  type History,
} from './seed.js';
import { GatewayEnded, lastWords, startGateway, type Server } from './servers.js';

export type Kind = 'postgres' | 'pglite';

export interface Target {
  readonly kind: Kind;
  readonly users: number;
  /** How old the identified users are (see seed.ts). */
  readonly history: History;
  readonly workspaceId: string;
  readonly key: string;
  /** The PostgreSQL database, for the floors; null on the embedded database. */
  readonly databaseUrl: string | null;
  /** The gateway's environment: where its data is. */
  readonly env: Record<string, string>;
  gateway: Server | null;
  /** Stops nothing: drops the database or deletes the folder. */
  readonly dispose: () => Promise<void>;
  /** The next unused anonymous user of the pool, and the end of what is seeded. */
  anonNext: number;
  anonSeeded: number;
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

async function open(t: Pick<Target, 'kind' | 'env' | 'databaseUrl'>): Promise<Database> {
  return openDatabase({ url: t.databaseUrl, dataDir: t.env['DATA_DIR'] ?? null });
}

const disposers = new Set<() => Promise<void>>();

/** Creates, migrates and seeds a database for `users` identified users and `anon` anonymous. */
export async function prepareTarget(
  kind: Kind,
  base: string,
  users: number,
  anon: number,
  history: History = 'new',
): Promise<Target> {
  let env: Record<string, string>;
  let databaseUrl: string | null = null;
  let dispose: () => Promise<void>;
  if (kind === 'postgres') {
    const scratch = await scratchDatabase(
      base,
      users >= 1_000_000 ? 'large' : history === 'year' ? 'aged' : 'gateway',
    );
    databaseUrl = scratch.url;
    env = { DATABASE_URL: scratch.url };
    dispose = scratch.drop;
  } else {
    const dir = await mkdtemp(path.join(tmpdir(), 'igw-bench-'));
    // An empty DATABASE_URL counts as unset: the gateway opens the folder, whatever this shell has.
    env = { DATABASE_URL: '', DATA_DIR: dir };
    dispose = () => rm(dir, { recursive: true, force: true });
  }
  disposers.add(dispose);
  const disposeOnce = async () => {
    if (disposers.delete(dispose)) await dispose();
  };
  const started = Date.now();
  const database = await open({ kind, env, databaseUrl });
  try {
    await runMigrations(database, databaseUrl);
    const { workspaceId, key } = await createBenchWorkspace(database.db);
    await seedIdentified(database.db, workspaceId, 0, users, history);
    await seedAnonymous(database.db, workspaceId, 0, anon);
    await analyze(database.db);
    log(
      `${kind}: seeded ${users} users (${history}) and ${anon} anonymous in ${Date.now() - started} ms`,
    );
    const target: Target = {
      kind,
      users,
      history,
      workspaceId,
      key,
      databaseUrl,
      env,
      gateway: null,
      dispose: disposeOnce,
      anonNext: 0,
      anonSeeded: anon,
    };
    return target;
  } finally {
    await database.close();
  }
}

export async function runGateway(t: Target): Promise<Server> {
  if (t.gateway && t.gateway.child.exited() === null) return t.gateway;
  t.gateway = await startGateway(t.env);
  return t.gateway;
}

export async function stopGateway(t: Target): Promise<void> {
  await t.gateway?.child.stop();
  t.gateway = null;
}

/** Seeds more anonymous users when fewer than `needed` are left unused. */
export async function ensureAnonymous(t: Target, needed: number): Promise<void> {
  if (t.anonSeeded - t.anonNext >= needed) return;
  const to = t.anonNext + Math.max(needed, 20_000);
  // The embedded database is the gateway's alone while it runs.
  const restart = t.kind === 'pglite' && t.gateway !== null;
  if (restart) await stopGateway(t);
  const database = await open(t);
  try {
    await seedAnonymous(database.db, t.workspaceId, t.anonSeeded, to);
  } finally {
    await database.close();
  }
  log(`${t.kind}: seeded anonymous users ${t.anonSeeded}..${to - 1}`);
  t.anonSeeded = to;
  if (restart) await runGateway(t);
}

/** Times the gateway ended during a run and was started again (see onGateway). */
export const interruptions: string[] = [];

/**
 * Runs `work` against the running gateway. Something outside the benchmark may stop the
 * gateway (a `pkill` aimed at development servers, say); then it is started again and the run
 * repeated, at most five times, and the interruption is reported.
 */
export async function onGateway<T>(
  t: Target,
  what: string,
  work: (gateway: Server) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let ended: string;
    try {
      const gateway = await runGateway(t);
      const result = await work(gateway);
      if (gateway.child.exited() === null) return result;
      ended = `the gateway ${gateway.child.exited()} during ${what}`;
      log(`${ended}; its last lines:\n${lastWords(gateway)}`);
    } catch (error) {
      const died = t.gateway?.child.exited();
      if (!(error instanceof GatewayEnded) && !died) throw error;
      ended = error instanceof GatewayEnded ? error.message : `the gateway ${died} during ${what}`;
      log(ended);
    }
    interruptions.push(`${t.kind}: ${ended}`);
    if (attempt === 5) throw new Error(`${ended}, five times in a row`);
    log('starting it again and repeating the run');
  }
}

/** Stops every gateway and drops every scratch database and folder, also after a failure. */
export async function disposeAll(targets: readonly Target[]): Promise<void> {
  for (const t of targets) await stopGateway(t).catch(() => {});
  for (const dispose of disposers) {
    await dispose().catch((e: unknown) => log(`cleanup: ${(e as Error).message}`));
  }
  disposers.clear();
}
