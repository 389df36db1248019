/**
 * The load generator, a process of its own so that it never shares a CPU queue or an event loop
 * with the server it measures. Runs autocannon against URL for WARMUP then SECONDS seconds (or,
 * with RATE set, requests evenly spaced at RATE a second, see paced.ts) and prints one JSON line
 * about the measured part (see LoadReport).
 *
 * SCENARIO is one of hello (Apollo's `{ hello }`), typename, profile, identify, track. Writes
 * never repeat an identifier: identify consumes anonymous users ANON_FROM.. ANON_TO - 1 of the
 * seeded pool, 50 a call, each merged into a different user; track sends 75 events of 75
 * different users a call. Users are `user-<i>` for i below USERS (see names.ts).
 */
import http from 'node:http';

import autocannon from 'autocannon';

import { ANON_LABEL, externalId, poolAnonId, usersOfCall } from './names.js';
import { paced } from './paced.js';
import { percentile } from './processes.js';

const env = process.env;
const scenario = env['SCENARIO'] ?? 'typename';
const users = Number(env['USERS'] ?? 10_000);
const offset = Number(env['OFFSET'] ?? 0);
const anonTo = Number(env['ANON_TO'] ?? 0);
const IDENTIFY_SIZE = 50;
const TRACK_SIZE = 75;

export interface LoadReport {
  readonly requests: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly non2xx: number;
  /** Connection errors and timeouts. */
  readonly errors: number;
  /** Answers that were 200 but carried GraphQL errors or not the expected data. */
  readonly badAnswers: number;
  /** identify: MERGED items; track: events processed. */
  readonly items: number;
  readonly outcomes: Record<string, number>;
  /** Next unused anonymous user of the pool, warm-up included. */
  readonly anonNext: number;
  /** The pool ran out before the end: the run is void. */
  readonly exhausted: boolean;
  readonly firstError: string | null;
}

const IDENTIFY = `mutation ($i: IdentifyUsersInput!) {
  identifyUsers(input: $i) { aliasesProcessed results { outcome } } }`;
const TRACK = `mutation ($i: TrackUsersInput!) { trackUsers(input: $i) { eventsProcessed } }`;
const PROFILE = `query ($x: String!) { profile(by: { externalId: $x }) { id externalId
  aliases { aliasName aliasLabel } events { name count firstAt lastAt } purchases { count totalCents } } }`;

let anonNext = Number(env['ANON_FROM'] ?? 0);
let calls = 0;
let exhausted = false;
let stop = () => {};

/** The body of the next request: fresh identifiers for writes, a random user for reads. */
function nextBody(): string {
  switch (scenario) {
    case 'hello':
      return JSON.stringify({ query: '{ hello }' });
    case 'typename':
      return JSON.stringify({ query: '{ __typename }' });
    case 'profile':
      return JSON.stringify({
        query: PROFILE,
        variables: { x: externalId(Math.floor(Math.random() * users)) },
      });
    case 'identify': {
      if (anonNext + IDENTIFY_SIZE > anonTo) {
        exhausted = true;
        stop();
        return JSON.stringify({ query: '{ __typename }' });
      }
      const survivors = usersOfCall(calls++, IDENTIFY_SIZE, offset, users);
      const aliasesToIdentify = survivors.map((u) => ({
        externalId: externalId(u),
        userAlias: { aliasLabel: ANON_LABEL, aliasName: poolAnonId(anonNext++) },
      }));
      return JSON.stringify({
        query: IDENTIFY,
        variables: { i: { aliasesToIdentify, mergeBehavior: 'MERGE' } },
      });
    }
    case 'track': {
      const time = new Date().toISOString();
      const events = usersOfCall(calls++, TRACK_SIZE, offset, users).map((u) => ({
        externalId: externalId(u),
        name: 'page_view',
        time,
      }));
      return JSON.stringify({ query: TRACK, variables: { i: { events } } });
    }
    default:
      throw new Error(`unknown SCENARIO ${scenario}`);
  }
}

let badAnswers = 0;
let items = 0;
let firstError: string | null = null;
const outcomes: Record<string, number> = {};

/** Counts what a 200 answer says; anything but the expected data is a bad answer. */
function check(status: number, body: string): void {
  if (status !== 200) {
    firstError ??= `${status} ${body.slice(0, 300)}`;
    return;
  }
  const answer = JSON.parse(body) as { data?: Record<string, any> | null; errors?: unknown[] };
  const data = answer.data;
  let good = !answer.errors && !!data;
  if (good && scenario === 'profile') good = data!['profile']?.events?.length >= 3;
  // Once the pool has run out, the requests still sent ask for `{ __typename }` only.
  if (good && scenario === 'identify' && data!['identifyUsers']) {
    for (const r of data!['identifyUsers'].results as { outcome: string }[]) {
      outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
      if (r.outcome === 'MERGED') items++;
    }
  }
  if (good && scenario === 'track') items += data!['trackUsers'].eventsProcessed as number;
  if (!good) {
    badAnswers++;
    firstError ??= body.slice(0, 300);
  }
}

function run(seconds: number, measured: boolean): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: env['URL']!,
        connections: Number(env['CONNECTIONS'] ?? 10),
        duration: seconds,
        requests: [
          {
            method: 'POST',
            headers,
            setupRequest: (req) => ({ ...req, body: nextBody() }),
            onResponse: (status, body) => (measured ? check(status, body) : undefined),
          },
        ],
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
    stop = () => instance.stop();
  });
}

const headers = {
  'content-type': 'application/json',
  ...(env['KEY'] ? { authorization: `Bearer ${env['KEY']}` } : {}),
};

/**
 * The kept-alive connections of paced runs: opened during the warm-up and kept for the measured
 * part, as a steady client keeps them, so that its first requests do not pay for connecting.
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(env['CONNECTIONS'] ?? 10) });

/** RATE requests a second, evenly spaced, on at most CONNECTIONS kept-alive connections. */
async function runPaced(rate: number, seconds: number, measured: boolean): Promise<LoadTotals> {
  const connections = Number(env['CONNECTIONS'] ?? 10);
  const totals = { non2xx: 0, errors: 0 };
  let running = true;
  stop = () => (running = false);
  const send = () =>
    new Promise<boolean>((resolve) => {
      const body = nextBody();
      const request = http.request(env['URL']!, { method: 'POST', agent, headers }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.on('end', () => {
          const status = response.statusCode ?? 0;
          if (status < 200 || status > 299) totals.non2xx++;
          if (measured) check(status, Buffer.concat(chunks).toString());
          resolve(running);
        });
      });
      request.on('error', (error) => {
        totals.errors++;
        firstError ??= error.message;
        resolve(running);
      });
      request.end(body);
    });
  const phase = await paced(rate, seconds, connections, send);
  return {
    requests: phase.latencies.length,
    seconds: phase.seconds,
    p50: percentile(phase.latencies, 50),
    p99: percentile(phase.latencies, 99),
    ...totals,
  };
}

interface LoadTotals {
  readonly requests: number;
  readonly seconds: number;
  readonly p50: number;
  readonly p99: number;
  readonly non2xx: number;
  readonly errors: number;
}

/** One phase, by autocannon flat out or paced at RATE. */
async function load(seconds: number, measured: boolean): Promise<LoadTotals> {
  const rate = Number(env['RATE'] ?? 0);
  if (rate > 0) return runPaced(rate, seconds, measured);
  const result = await run(seconds, measured);
  return {
    requests: result.requests.total,
    seconds: result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

const warmup = Number(env['WARMUP'] ?? 2);
if (warmup > 0) await load(warmup, false);
items = 0;
const result = await load(Number(env['SECONDS'] ?? 10), true);
agent.destroy();
const round = (ms: number) => Math.round(ms * 10) / 10;
const report: LoadReport = {
  requests: result.requests,
  seconds: result.seconds,
  perSecond: result.requests / result.seconds,
  p50: round(result.p50),
  p99: round(result.p99),
  non2xx: result.non2xx,
  errors: result.errors,
  badAnswers,
  items,
  outcomes,
  anonNext,
  exhausted,
  firstError,
};
process.stdout.write(JSON.stringify(report) + '\n');
