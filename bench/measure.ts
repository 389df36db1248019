/**
 * One measured run is one load process (autocannon, bench/load.ts) or one floor process
 * (bench/floor-*.ts), spawned fresh and read back as a LoadReport; a figure is the median of
 * several runs. Settings come from the environment once, here.
 */
import type { LoadReport } from './load.js';
import { median, spawnNode } from './processes.js';

const env = process.env;

export const settings = {
  seconds: Number(env['BENCH_SECONDS'] ?? 10),
  runs: Number(env['BENCH_RUNS'] ?? 3),
  warmup: Number(env['BENCH_WARMUP'] ?? 2),
  connections: Number(env['BENCH_CONNECTIONS'] ?? 10),
  databases: (env['BENCH_DATABASES'] ?? 'postgres,pglite').split(',').map((d) => d.trim()),
  large: env['BENCH_LARGE'] !== 'false',
  aged: env['BENCH_AGED'] !== 'false',
  users: Number(env['BENCH_USERS'] ?? 10_000),
  largeUsers: Number(env['BENCH_LARGE_USERS'] ?? 1_000_000),
  baseUrl: env['DATABASE_URL'] || 'postgres://postgres@127.0.0.1:5432/postgres',
  writeResults: env['BENCH_WRITE_RESULTS'] === 'true',
};

export type { LoadReport };

export interface Job {
  /** hello, typename, profile, identify, track; or floor-identify, floor-track. */
  readonly scenario: string;
  readonly env: Record<string, string>;
  /** Overall calls a second; 0 runs flat out. */
  readonly rate?: number;
}

/** Runs one load or floor process to its end and returns its report. */
export async function runJob(job: Job): Promise<LoadReport> {
  const floor = job.scenario.startsWith('floor-');
  const rate = Math.round(job.rate ?? 0);
  const connections = settings.connections;
  const script = floor ? `bench/${job.scenario}.ts` : 'bench/load.ts';
  const child = spawnNode(['--import', 'tsx', script], {
    ...job.env,
    SCENARIO: job.scenario,
    SECONDS: String(settings.seconds),
    WARMUP: String(settings.warmup),
    CONNECTIONS: String(connections),
    RATE: String(rate),
  });
  let line: string;
  try {
    line = await child.line(
      (l) => l.startsWith('{"requests"'),
      (settings.seconds + settings.warmup + 180) * 1000,
    );
  } finally {
    await child.stop();
  }
  const report = JSON.parse(line) as LoadReport;
  process.stderr.write(`  ${job.scenario}${rate ? ` @${rate}/s` : ''}: ${line}\n`);
  return report;
}

/** The median of each figure over several runs (each figure's own median). */
export function medianReport(reports: readonly LoadReport[]): LoadReport {
  const m = (f: (r: LoadReport) => number) => median(reports.map(f));
  const sum = (f: (r: LoadReport) => number) => reports.reduce((n, r) => n + f(r), 0);
  const outcomes: Record<string, number> = {};
  for (const r of reports) {
    for (const [k, v] of Object.entries(r.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + v;
  }
  return {
    requests: sum((r) => r.requests),
    seconds: sum((r) => r.seconds),
    perSecond: m((r) => r.perSecond),
    p50: m((r) => r.p50),
    p99: m((r) => r.p99),
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    badAnswers: sum((r) => r.badAnswers),
    items: sum((r) => r.items),
    outcomes,
    anonNext: Math.max(...reports.map((r) => r.anonNext)),
    exhausted: reports.some((r) => r.exhausted),
    firstError: reports.find((r) => r.firstError)?.firstError ?? null,
  };
}

/** Failures a report counts: non-2xx answers, connection errors, wrong or erroneous answers. */
export function failures(r: LoadReport): number {
  return r.non2xx + r.errors + r.badAnswers;
}
