/**
 * `npm run bench`: the request path of the gateway, each figure beside a reference measured in
 * the same run on the same machine.
 *
 * The gateway is built (`npm run build`) and run as `npm start` runs it (from a copy of that
 * build, which a rebuild during the benchmark cannot change), in production mode, with the rate
 * limit out of the way and its outbox dispatcher off (deliveries are written, not sent), first on
 * a scratch PostgreSQL database, then on a fresh embedded-database folder
 * (BENCH_DATABASES=postgres,pglite). Each database is seeded with SQL before the gateway starts
 * (see seed.ts: 10,000 identified users with two aliases, three event summaries and their daily
 * counts, a purchase summary; and a pool of anonymous users for identifyUsers), and the seed is
 * read back through `profile(by:)` before anything is measured.
 *
 * Load comes from autocannon in a process of its own (load.ts), 10 connections
 * (BENCH_CONNECTIONS), BENCH_RUNS runs (3) of BENCH_SECONDS (10) after a BENCH_WARMUP (2 s)
 * warm-up; a figure is the median. References: Apollo Server's smallest service (apollo-hello.ts)
 * for the read path, the same `profile(by:)` read hand-written on Apollo (apollo-profile.ts, on
 * both databases), and hand-written postgres.js floors (floor-*.ts, PostgreSQL only) doing the
 * same database work as trackUsers and identifyUsers. A second PostgreSQL database with
 * 1,000,000 users (BENCH_LARGE=false skips it) shows whether cost depends on size, and one of
 * 10,000 users a year old (BENCH_AGED=false skips it) whether a merge costs more into an old
 * one. Also resident memory (idle, and peak under each load) and the time from spawn to the
 * first 200 of /readyz.
 * Prints one markdown table; BENCH_WRITE_RESULTS=true also writes it to bench/RESULTS.md.
 */
import { settings } from './measure.js';
import { median, rssKiB } from './processes.js';
import { measureAged, measureDatabase, measureLarge, type Figures } from './scenarios.js';
import {
  buildGateway,
  compileReference,
  hello,
  readyz,
  removeBuilds,
  startApollo,
  startGateway,
  timeToAnswer,
  type Server,
} from './servers.js';
import { describeMachine, renderTable, writeResults, type Row } from './table.js';
import { agedRows, rowsFor, largeRows, notesFor, startRow } from './rows.js';
import {
  disposeAll,
  interruptions,
  prepareTarget,
  stopGateway,
  type Kind,
  type Target,
} from './targets.js';

const began = Date.now();
const targets: Target[] = [];
let apollo: Server | null = null;
const rows: Row[] = [];
const notes: string[] = [];
const kinds = settings.databases.filter((d): d is Kind => d === 'postgres' || d === 'pglite');

function log(message: string): void {
  process.stderr.write(`[${((Date.now() - began) / 1000).toFixed(0)} s] ${message}\n`);
}

/** Median of three starts of `start`, each to its first 200. */
async function startTime(start: () => Promise<number>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) times.push(await start());
  return median(times);
}

/** A start that something outside the benchmark interrupted is tried again. */
async function retried(start: () => Promise<number>): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (attempt === 3) throw error;
      log(`a start failed, trying again: ${(error as Error).message.split('\n')[0]}`);
    }
  }
}

const stopping = async (signal: NodeJS.Signals) => {
  log(`${signal}: cleaning up`);
  await apollo?.child.stop();
  await disposeAll(targets);
  removeBuilds();
  process.exit(1);
};
process.on('SIGINT', () => void stopping('SIGINT'));
process.on('SIGTERM', () => void stopping('SIGTERM'));

try {
  log('building the gateway (npm run build)');
  const code = buildGateway();
  const apolloScript = compileReference('apollo-hello');
  const readFloorScript = compileReference('apollo-profile');
  apollo = await startApollo(apolloScript);
  await new Promise((r) => setTimeout(r, 1000));
  const apolloIdleKiB = rssKiB(apollo.child.process.pid) ?? 0;
  const apolloStart = await startTime(() =>
    retried(() => timeToAnswer(() => startApollo(apolloScript), hello)),
  );
  const ten: Partial<Record<Kind, Figures>> = {};

  for (const kind of kinds) {
    log(`${kind}: seeding ${settings.users} users`);
    const t = await prepareTarget(
      kind,
      settings.baseUrl,
      settings.users,
      kind === 'postgres' ? 100_000 : 50_000,
    );
    targets.push(t);
    log(`${kind}: measuring`);
    const figures = await measureDatabase(t, apollo, readFloorScript);
    ten[kind] = figures;
    await stopGateway(t);
    log(`${kind}: start times`);
    const start = await startTime(() =>
      retried(() => timeToAnswer(() => startGateway(t.env), readyz)),
    );
    rows.push(...rowsFor(kind, figures, apolloIdleKiB), startRow(kind, start, apolloStart));
    notes.push(...notesFor(kind, figures));
    await t.dispose();
  }

  const base = ten.postgres;
  if (settings.large && base) {
    log(`postgres: seeding ${settings.largeUsers} users`);
    const t = await prepareTarget('postgres', settings.baseUrl, settings.largeUsers, 100_000);
    targets.push(t);
    log('postgres, large: measuring');
    const figures = await measureLarge(t);
    await stopGateway(t);
    await t.dispose();
    rows.push(...largeRows(settings.largeUsers, figures, base));
    notes.push(...notesFor('postgres', figures));
  }
  if (settings.aged && base) {
    log(`postgres: seeding ${settings.users} users a year old`);
    const t = await prepareTarget('postgres', settings.baseUrl, settings.users, 100_000, 'year');
    targets.push(t);
    log('postgres, aged: measuring');
    const figures = await measureAged(t);
    await stopGateway(t);
    await t.dispose();
    rows.push(...agedRows(figures, base));
    notes.push(...notesFor('postgres', figures));
  }
  await apollo.child.stop();
  if (interruptions.length) {
    notes.push(
      `The gateway ended unexpectedly ${interruptions.length} times ` +
        `(${[...new Set(interruptions)].join('; ')}); each interrupted run was repeated.`,
    );
  }

  const table = renderTable(rows);
  const minutes = (Date.now() - began) / 60_000;
  process.stdout.write(`${table}\n\n`);
  for (const n of notes) process.stdout.write(`- ${n}\n`);
  process.stdout.write(
    `\nDeliveries were written to the outbox but not sent (OUTBOX_DISPATCHER=false). ` +
      `${settings.runs} runs of ${settings.seconds} s per figure, ${settings.connections} connections; ` +
      `${minutes.toFixed(1)} minutes. Gateway: ${code}.\n`,
  );
  if (settings.writeResults) {
    const file = await writeResults(
      table,
      await describeMachine(settings.baseUrl),
      code,
      notes,
      minutes,
    );
    log(`wrote ${file}`);
  }
} catch (error) {
  log(`benchmark failed: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = 1;
} finally {
  await apollo?.child.stop();
  await disposeAll(targets);
  removeBuilds();
}
