/**
 * `npm run bench`: starts the gateway in this process on the embedded database (or DATABASE_URL),
 * seeds a workspace, and measures with autocannon: a hot read (profile by external id with its
 * children), trackUsers, and identifyUsers merging a fresh anonymous profile per request.
 * Prints requests per second and latency percentiles for each.
 */
import 'reflect-metadata';

import { randomUUID } from 'node:crypto';

import autocannon from 'autocannon';
import { pino } from 'pino';

import { loadConfig } from '../src/config/config.js';
import { openDatabase } from '../src/db/client.js';
import { runMigrations } from '../src/db/migrate.js';
import { startGateway } from '../src/gateway.js';

const seconds = Number(process.env['BENCH_SECONDS'] ?? 10);
const connections = Number(process.env['BENCH_CONNECTIONS'] ?? 10);
const url = process.env['DATABASE_URL'] ?? null;
const config = loadConfig({
  PORT: '0',
  LOG_LEVEL: 'silent',
  OUTBOX_DISPATCHER: 'false',
  RATE_LIMIT_PER_MINUTE: '100000000',
});
const database = await openDatabase({ url, dataDir: null, poolSize: 20 });
await runMigrations(database, url);
const gateway = await startGateway(config, database, pino({ level: 'silent' }));
const { key } = await gateway.services.auth.createWorkspace({ name: `bench-${Date.now()}` });
const headers = { 'content-type': 'application/json', authorization: `Bearer ${key.key}` };
const endpoint = gateway.server.url;

async function post(query: string, variables: Record<string, unknown>) {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables }),
  });
  return res.json();
}

const TRACK = `mutation ($i: TrackUsersInput!) { trackUsers(input: $i) { message } }`;
const time = new Date(Date.now() - 60_000).toISOString();
// 1,000 identified users with aliases and a few events each.
for (let batch = 0; batch < 20; batch++) {
  const events = Array.from({ length: 50 }, (_, i) => ({
    externalId: `user-${batch * 50 + i}`,
    name: 'visit',
    time,
  }));
  await post(TRACK, { i: { events } });
}

function run(title: string, requests: autocannon.Request[]): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon({ url: endpoint, connections, duration: seconds, requests }, (err, result) =>
      err ? reject(err) : resolve(result),
    );
  }).then((result) => {
    const r = result as autocannon.Result;
    const errors = r.non2xx + r.errors;
    console.log(
      `${title.padEnd(34)} ${String(Math.round(r.requests.average)).padStart(6)} req/s  ` +
        `p50 ${r.latency.p50} ms  p99 ${r.latency.p99} ms  errors ${errors}`,
    );
    return r;
  });
}

const body = (query: string, variables: Record<string, unknown>) =>
  JSON.stringify({ query, variables });
let n = 0;
console.log(
  `identity-gateway on ${database.driver}, ${connections} connections, ${seconds} s each`,
);
await run('profile(by: externalId) + children', [
  {
    method: 'POST',
    headers,
    setupRequest: (req) => ({
      ...req,
      body: body(
        `query ($x: String!) { profile(by: { externalId: $x }) { id externalId anonIds events { name count } purchases { count } } }`,
        { x: `user-${n++ % 1000}` },
      ),
    }),
  },
]);
await run('trackUsers (1 event)', [
  {
    method: 'POST',
    headers,
    setupRequest: (req) => ({
      ...req,
      body: body(TRACK, {
        i: { events: [{ externalId: `user-${n++ % 1000}`, name: 'tap', time }] },
      }),
    }),
  },
]);
await run('identifyUsers (merge a new anon id)', [
  {
    method: 'POST',
    headers,
    setupRequest: (req) => ({
      ...req,
      body: body(
        `mutation ($i: IdentifyUsersInput!) { identifyUsers(input: $i) { results { outcome } } }`,
        {
          // An anon id nobody tracked: NOT_FOUND after the full lock-load-plan path.
          i: { anonIdsToIdentify: [{ externalId: `user-${n++ % 1000}`, anonId: randomUUID() }] },
        },
      ),
    }),
  },
]);
const mem = process.memoryUsage();
console.log(
  `rss ${Math.round(mem.rss / 2 ** 20)} MiB, heap ${Math.round(mem.heapUsed / 2 ** 20)} MiB`,
);
await gateway.stop();
await database.close();
