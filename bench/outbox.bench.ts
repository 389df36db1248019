/**
 * `npm run bench:outbox`: how fast one gateway process drains the outbox, measured end to end.
 *
 * For each backlog size (BENCH_OUTBOX_ROWS, default 100000,1000000) on the PostgreSQL server
 * (DATABASE_URL's server, a scratch database per run) and, for the first size, on the embedded
 * database: the backlog is written with SQL (two vendors, several rows per profile), the gateway
 * is started as `npm start` would start it, and a vendor sink in a process of its own answers at
 * once and checks what arrives. Reported: deliveries per second from start to the last delivery,
 * the claim p99 (from the gateway's own histogram), how long a fresh delivery of another
 * workspace waited meanwhile, duplicates, order violations, rows left claimed, peak memory.
 * Then, on PostgreSQL, a steady load of identifyUsers from a load generator process (500
 * identifications a second by default) and the commit-to-delivered latency of its deliveries.
 */
import 'reflect-metadata';

import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { sql } from 'drizzle-orm';

import { AuthService } from '../src/auth/auth-service.js';
import { openDatabase, type Database } from '../src/db/client.js';
import { runMigrations } from '../src/db/migrate.js';
import { rowsOf } from '../src/db/rows.js';
import { seedBacklog } from '../test/helpers/outbox-backlog.js';
import {
  histogramPercentile,
  median,
  percentile,
  scratchDatabase,
  sleep,
  spawnScript,
  startGatewayProcess,
  startSink,
  type Child,
} from './processes.js';

const env = process.env;
const base = env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const sizes = (env['BENCH_OUTBOX_ROWS'] ?? '100000,1000000').split(',').map(Number);
const runs = Number(env['BENCH_RUNS'] ?? 3);
const withPglite = env['BENCH_PGLITE'] !== 'false';
const steadyRate = Number(env['BENCH_IDENTIFY_RATE'] ?? 500);
const steadySeconds = Number(env['BENCH_IDENTIFY_SECONDS'] ?? 20);

interface Target {
  readonly kind: 'postgres' | 'pglite';
  readonly env: Record<string, string>;
  open(): Promise<Database>;
  dispose(): Promise<void>;
}

async function target(kind: Target['kind']): Promise<Target> {
  if (kind === 'postgres') {
    const scratch = await scratchDatabase(base, 'outbox');
    return {
      kind,
      env: { DATABASE_URL: scratch.url },
      open: async () => {
        const database = await openDatabase({ url: scratch.url, dataDir: null });
        await runMigrations(database, scratch.url);
        return database;
      },
      dispose: scratch.drop,
    };
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'igw-bench-'));
  return {
    kind,
    env: { DATA_DIR: dir },
    open: async () => {
      const database = await openDatabase({ url: null, dataDir: dir });
      await runMigrations(database, null);
      return database;
    },
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

async function gql(url: string, key: string, query: string, variables: unknown): Promise<any> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  return res.json();
}

const TRACK = `mutation ($i: TrackUsersInput!) { trackUsers(input: $i) { eventsProcessed } }`;
const IDENTIFY = `mutation ($i: IdentifyUsersInput!) { identifyUsers(input: $i) { results { outcome } } }`;

async function workspaces(database: Database, sinkUrl: string) {
  const auth = new AuthService(database.db);
  const vendors = {
    braze: { apiKey: 'bench', restEndpoint: sinkUrl },
    mixpanel: {
      token: 'bench',
      apiHost: sinkUrl,
      idMerge: 'ORIGINAL' as const,
      serviceAccount: null,
      projectId: null,
    },
  };
  const a = await auth.createWorkspace({ name: `drain-${randomUUID()}`, ...vendors });
  const b = await auth.createWorkspace({ name: `fresh-${randomUUID()}`, ...vendors });
  return { a: a.workspace.id, b: b.key.key };
}

async function startGateway(t: Target): Promise<{ gateway: Child; url: string }> {
  const gateway = await startGatewayProcess({ ...t.env, PORT: '0', LOG_LEVEL: 'info' });
  const line = await gateway.line((l) => l.includes('identity-gateway listening'));
  const url = (JSON.parse(line) as { url: string }).url.replace('0.0.0.0', '127.0.0.1');
  return { gateway, url };
}

interface DrainResult {
  readonly rows: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly claimP50Ms: number;
  readonly claimP99Ms: number;
  readonly freshMs: number;
  readonly duplicates: number;
  readonly orderViolations: number;
  readonly leftClaimed: number;
  readonly notDelivered: number;
  readonly peakRssMiB: number;
  readonly stopMs: number;
}

async function drain(kind: Target['kind'], rows: number): Promise<DrainResult> {
  const sink = await startSink();
  const t = await target(kind);
  let database = await t.open();
  const { a, b } = await workspaces(database, sink.url);
  await seedBacklog(database.db, {
    workspaceId: a,
    profiles: Math.round(rows / 4),
    perProfile: 2,
    vendors: ['BRAZE', 'MIXPANEL'],
  });
  await database.close();

  const { gateway, url } = await startGateway(t);
  const started = Date.now();
  const fresh = randomUUID();
  await gql(url, b, TRACK, {
    i: { events: [{ anonId: fresh, name: 'visit', time: new Date().toISOString() }] },
  });
  let freshSentAt = 0;
  for (;;) {
    gateway.sampleRss();
    const stats = await sink.stats();
    if (freshSentAt === 0 && Date.now() - started > 1_000) {
      freshSentAt = Date.now();
      await gql(url, b, IDENTIFY, {
        i: { anonIdsToIdentify: [{ anonId: fresh, externalId: `x-${fresh}` }] },
      });
    }
    if (stats.delivered.braze + stats.delivered.mixpanel >= rows + 2) break;
    if (Date.now() - started > 30 * 60_000)
      throw new Error(`${kind} ${rows}: not drained in 30 min`);
    await sleep(100);
  }
  const seconds = (Date.now() - started) / 1000;
  const [seen] = (await (await fetch(`${sink.url}/seen?anonId=${fresh}`)).json()) as {
    braze: number;
    mixpanel: number;
  }[];
  const metrics = await (await fetch(url.replace('/graphql', '/metrics'))).text();
  const stopAsked = Date.now();
  await gateway.stop();
  const stopMs = Date.now() - stopAsked;
  const stats = await sink.stats();
  await sink.child.stop();

  database = await t.open();
  const [row] = rowsOf<Record<string, number>>(
    await database.db.execute(sql`
      select count(*) filter (where claimed_by is not null)::int as claimed,
             count(*) filter (where status <> 'DELIVERED')::int as undelivered
      from outbox_messages`),
  );
  await database.close();
  await t.dispose();
  return {
    rows,
    seconds,
    perSecond: rows / seconds,
    claimP50Ms: histogramPercentile(metrics, 'igw_outbox_claim_duration_seconds', 50) * 1000,
    claimP99Ms: histogramPercentile(metrics, 'igw_outbox_claim_duration_seconds', 99) * 1000,
    freshMs: Math.max(seen.braze, seen.mixpanel) - freshSentAt,
    duplicates: stats.duplicates,
    orderViolations: stats.orderViolations,
    leftClaimed: Number(row.claimed),
    notDelivered: Number(row.undelivered),
    peakRssMiB: gateway.peakRssMiB(),
    stopMs,
  };
}

interface SteadyResult {
  readonly identifications: number;
  readonly rate: number;
  readonly failures: number;
  readonly callP99Ms: number;
  readonly deliveries: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** identifyUsers at a steady rate from a load generator; commit-to-delivered of what it caused. */
async function steady(kind: Target['kind']): Promise<SteadyResult> {
  const sink = await startSink();
  const t = await target(kind);
  let database = await t.open();
  const auth = new AuthService(database.db);
  const { workspace, key } = await auth.createWorkspace({
    name: `steady-${randomUUID()}`,
    braze: { apiKey: 'bench', restEndpoint: sink.url },
    mixpanel: {
      token: 'bench',
      apiHost: sink.url,
      idMerge: 'ORIGINAL',
      serviceAccount: null,
      projectId: null,
    },
  });
  await database.close();
  const { gateway, url } = await startGateway(t);
  const perCall = 20;
  const total = steadyRate * steadySeconds;
  const anonIds = Array.from({ length: total }, () => randomUUID());
  const time = new Date().toISOString();
  for (let i = 0; i < anonIds.length; i += 75) {
    const events = anonIds.slice(i, i + 75).map((anonId) => ({ anonId, name: 'visit', time }));
    await gql(url, key.key, TRACK, { i: { events } });
  }
  const file = path.join(tmpdir(), `igw-anon-${process.pid}.json`);
  await writeFile(file, JSON.stringify(anonIds));
  const load = spawnScript('bench/identify-load.ts', {
    URL: url,
    KEY: key.key,
    RATE: String(steadyRate / perCall),
    PER_CALL: String(perCall),
    SECONDS: String(steadySeconds),
    ANON_IDS_FILE: file,
  });
  const summary = JSON.parse(
    await load.line((l) => l.startsWith('{"calls"'), (steadySeconds + 120) * 1000),
  ) as {
    calls: number;
    failures: number;
    seconds: number;
    p99: number;
    outcomes: Record<string, number>;
  };
  const identified = summary.outcomes['IDENTIFIED'] ?? 0;
  for (let i = 0; i < 300; i++) {
    const s = await sink.stats();
    if (s.delivered.braze + s.delivered.mixpanel >= 2 * identified) break;
    await sleep(100);
  }
  await gateway.stop();
  await sink.child.stop();
  database = await t.open();
  const latencies = rowsOf<{ ms: number }>(
    await database.db.execute(sql`
      select extract(epoch from delivered_at - created_at) * 1000 as ms from outbox_messages
      where workspace_id = ${workspace.id} and status = 'DELIVERED'`),
  ).map((r) => Number(r.ms));
  await database.close();
  await t.dispose();
  await rm(file, { force: true });
  return {
    identifications: identified,
    rate: identified / summary.seconds,
    failures: summary.failures,
    callP99Ms: summary.p99,
    deliveries: latencies.length,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
}

const fmt = (n: number, digits = 0) =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits }) : String(n);

const lines: string[] = [
  '| database | backlog | runs | deliveries/s (median) | drain s | claim p50 | claim p99 | fresh delivery of another workspace | duplicates | order violations | left claimed | undelivered | gateway peak RSS | stop after SIGTERM |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
];
const kinds: Target['kind'][] = withPglite ? ['postgres', 'pglite'] : ['postgres'];
for (const kind of kinds) {
  for (const rows of kind === 'pglite' ? sizes.slice(0, 1) : sizes) {
    const n = rows >= 1_000_000 ? 1 : runs;
    const results: DrainResult[] = [];
    for (let i = 0; i < n; i++) {
      const r = await drain(kind, rows);
      process.stderr.write(`${kind} ${rows}: ${JSON.stringify(r)}\n`);
      results.push(r);
    }
    const m = (f: (r: DrainResult) => number) => median(results.map(f));
    lines.push(
      `| ${kind} | ${fmt(rows)} | ${n} | ${fmt(m((r) => r.perSecond))} | ${fmt(
        m((r) => r.seconds),
        1,
      )} | ≤ ${fmt(
        m((r) => r.claimP50Ms),
        1,
      )} ms | ≤ ${fmt(
        m((r) => r.claimP99Ms),
        1,
      )} ms | ${fmt(m((r) => r.freshMs))} ms | ${Math.max(...results.map((r) => r.duplicates))} | ${Math.max(...results.map((r) => r.orderViolations))} | ${Math.max(...results.map((r) => r.leftClaimed))} | ${Math.max(...results.map((r) => r.notDelivered))} | ${fmt(m((r) => r.peakRssMiB))} MiB | ${fmt(m((r) => r.stopMs))} ms |`,
    );
  }
}
const steadyLines = [
  '',
  `| steady identifyUsers (${steadyRate}/s asked, ${steadySeconds} s) | identifications/s | failed calls | call p99 | deliveries | commit-to-delivered p50 | p99 |`,
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
];
for (const kind of steadyRate > 0 ? kinds : []) {
  const s = await steady(kind);
  process.stderr.write(`steady ${kind}: ${JSON.stringify(s)}\n`);
  steadyLines.push(
    `| ${kind} | ${fmt(s.rate)} | ${s.failures} | ${fmt(s.callP99Ms)} ms | ${fmt(s.deliveries)} | ${fmt(s.p50Ms)} ms | ${fmt(s.p99Ms)} ms |`,
  );
}
process.stdout.write([...lines, ...steadyLines].join('\n') + '\n');
