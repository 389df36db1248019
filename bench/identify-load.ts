/**
 * An open-loop load generator in a process of its own: sends identifyUsers to URL with KEY at a
 * fixed RATE of calls per second for SECONDS, each call identifying PER_CALL anon ids (read
 * from the JSON array in ANON_IDS_FILE, each used once) by a fresh external id. Calls go out on
 * schedule whether or not earlier ones have been answered. Prints one JSON summary line.
 */
import { readFileSync } from 'node:fs';

const env = process.env;
const url = env['URL']!;
const key = env['KEY']!;
const rate = Number(env['RATE'] ?? 25);
const perCall = Number(env['PER_CALL'] ?? 20);
const seconds = Number(env['SECONDS'] ?? 20);
const anonIds = JSON.parse(readFileSync(env['ANON_IDS_FILE']!, 'utf8')) as string[];

const MUTATION = `mutation ($i: IdentifyUsersInput!) {
  identifyUsers(input: $i) { results { outcome } } }`;
const latencies: number[] = [];
const outcomes: Record<string, number> = {};
let failures = 0;
let next = 0;

async function call(): Promise<void> {
  const ids = anonIds.slice(next, next + perCall);
  next += perCall;
  if (ids.length === 0) return;
  const input = {
    anonIdsToIdentify: ids.map((anonId) => ({ anonId, externalId: `ext-${anonId}` })),
  };
  const started = performance.now();
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: MUTATION, variables: { i: input } }),
    });
    const body = (await res.json()) as {
      data?: { identifyUsers: { results: { outcome: string }[] } };
      errors?: unknown[];
    };
    latencies.push(performance.now() - started);
    if (!body.data) failures++;
    for (const r of body.data?.identifyUsers.results ?? []) {
      outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
    }
  } catch {
    failures++;
  }
}

const started = Date.now();
const inFlight: Promise<void>[] = [];
for (let i = 0; i < rate * seconds; i++) {
  const due = started + (i * 1000) / rate;
  const wait = due - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  inFlight.push(call());
}
await Promise.all(inFlight);
const elapsed = (Date.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const pick = (p: number) =>
  latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)];
process.stdout.write(
  JSON.stringify({
    calls: latencies.length,
    failures,
    outcomes,
    seconds: elapsed,
    p50: pick(0.5),
    p99: pick(0.99),
  }) + '\n',
);
