/**
 * The benchmark's answer: one markdown table, each figure beside the reference measured in the
 * same run, their ratio, the goal and whether it holds; and bench/RESULTS.md, which keeps that
 * table with the command, the date and the machine it came from.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import postgres from 'postgres';
import { format, resolveConfig } from 'prettier';

import { packageRoot } from '../src/lib/package-root.js';

export interface Row {
  readonly what: string;
  readonly database: string;
  readonly measured: string;
  readonly reference: string;
  readonly ratio: number | null;
  readonly goal: string;
  /** null: the goal has no reference here, or no goal. */
  readonly holds: boolean | null;
}

export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return String(n);
  return n.toLocaleString('en-US', { maximumFractionDigits: digits });
}

/** Milliseconds with one decimal below 10 ms, whole ones above. */
export function ms(n: number): string {
  return `${fmt(n, n < 10 ? 1 : 0)} ms`;
}

export function mb(kib: number): string {
  return `${fmt((kib * 1024) / 1e6)} MB`;
}

export function renderTable(rows: readonly Row[]): string {
  const lines = [
    '| what | database | measured | reference | ratio | goal | holds |',
    '| --- | --- | ---: | ---: | ---: | --- | --- |',
  ];
  for (const r of rows) {
    const holds = r.holds === null ? 'n/a' : r.holds ? 'yes' : '**no**';
    const ratio = r.ratio === null ? 'n/a' : fmt(r.ratio, 2);
    lines.push(
      `| ${r.what} | ${r.database} | ${r.measured} | ${r.reference} | ${ratio} | ${r.goal} | ${holds} |`,
    );
  }
  return lines.join('\n');
}

export async function describeMachine(databaseUrl: string): Promise<string> {
  const cpus = os.cpus();
  let pg = 'unavailable';
  const client = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await client<{ version: string }[]>`select version()`;
    pg = row.version;
  } catch {
    // the PostgreSQL server is not reachable; only the embedded database was measured
  } finally {
    await client.end({ timeout: 5 });
  }
  return [
    `- CPU: ${cpus[0]?.model ?? 'unknown'}, ${cpus.length} cores (os.cpus())`,
    `- RAM: ${fmt(os.totalmem() / 2 ** 30, 1)} GiB`,
    `- Node.js ${process.version}`,
    `- ${pg}`,
  ].join('\n');
}

const INTRO = `Figures from \`npm run bench\` (bench/gateway.bench.ts). Each line is one figure: **what**
was measured and on which **database**; **measured** is the median of the runs (each after a
warm-up; requests per second, identifiers or events per second, latency percentiles, resident
memory or start time); **reference** is what it is compared with, measured in the same run on the
same machine: the smallest Apollo Server 5 (\`{ hello }\`), the read floor (the same
\`profile(by:)\` read hand-written on Apollo Server 5 with one prepared statement,
bench/apollo-profile.ts), a hand-written floor on postgres.js doing the same database work as a
write in one transaction per call, or the same figure with 10,000 profiles; **ratio** is measured / reference (for the 1,000,000-profile lines: speed with 10,000 /
speed with 1,000,000); **goal** is the target from the issue and **holds** whether this run met
it (n/a where no reference exists, as for floors on the embedded database). The gateway is the build
of the code named below, run as \`npm start\` runs it; the load generator and the floors run in
processes of their own, never in the gateway's. During these figures the
gateway writes its Mixpanel and Braze deliveries to the outbox but does not send them
(OUTBOX_DISPATCHER=false). "p99 at half its peak" sends requests (or floor calls) evenly spaced at half the
measured peak, on at most as many connections as the peak runs used, each latency counted from
when its request was due (bench/paced.ts), so a server that falls behind is charged for the
queue it causes. Every database is seeded with SQL before the gateway starts (see
bench/seed.ts) with the rows the gateway itself writes for tracked users.`;

/** Writes bench/RESULTS.md, formatted as `npm run format` would format it. */
export async function writeResults(
  table: string,
  machine: string,
  code: string,
  notes: string[],
  minutes: number,
): Promise<string> {
  const env = Object.entries(process.env)
    .filter(([k]) => k.startsWith('BENCH_'))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const text = [
    '# Request path benchmark',
    '',
    INTRO,
    '',
    `Command: \`${env ? `${env} ` : ''}npm run bench\` (${fmt(minutes, 1)} minutes).`,
    '',
    `Date: ${new Date().toISOString()}`,
    '',
    `Gateway measured: ${code}.`,
    '',
    'Machine:',
    '',
    machine,
    '',
    table,
    '',
    ...(notes.length ? ['Notes from this run:', '', ...notes.map((n) => `- ${n}`), ''] : []),
  ].join('\n');
  const file = path.join(packageRoot(), 'bench', 'RESULTS.md');
  const options = (await resolveConfig(file)) ?? {};
  writeFileSync(file, await format(text, { ...options, filepath: file }));
  return file;
}
