/**
 * The processes a benchmark runs beside itself: the gateway exactly as `npm start` runs it, the
 * vendor sink, load generators; plus scratch databases on the PostgreSQL server and statistics.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import postgres from 'postgres';

import { packageRoot } from '../src/lib/package-root.js';

const root = packageRoot();

export interface Child {
  readonly process: ChildProcess;
  output(): string;
  /** Resolves with the first stdout line that `match` accepts. */
  line(match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Largest resident set seen by `sampleRss`, in MiB. */
  peakRssMiB(): number;
  sampleRss(): void;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Runs a TypeScript entry point under tsx, or a built one under node. */
export function spawnScript(script: string, env: NodeJS.ProcessEnv = {}): Child {
  const args = /\.m?js$/.test(script)
    ? ['--enable-source-maps', script]
    : ['--import', 'tsx', script];
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters: { match: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const l of d.toString().split('\n')) {
      for (const w of [...waiters]) {
        if (w.match(l)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(l);
        }
      }
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  let peak = 0;
  return {
    process: child,
    output: () => out,
    line: (match, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const hit = out.split('\n').find(match);
        if (hit !== undefined) return resolve(hit);
        const timer = setTimeout(
          () => reject(new Error(`${script}: no expected line in ${timeoutMs} ms\n${out}`)),
          timeoutMs,
        );
        waiters.push({ match, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      }),
    peakRssMiB: () => peak,
    sampleRss: () => {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
        peak = Math.max(peak, kb / 1024);
      } catch {
        // the process has exited
      }
    },
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** The gateway as `npm start` runs it (the build when there is one), listening on `port`. */
export async function startGatewayProcess(env: NodeJS.ProcessEnv): Promise<Child> {
  const built = path.join(root, 'dist', 'main.mjs');
  let entry = 'src/main.ts';
  try {
    readFileSync(built);
    entry = built;
  } catch {
    // not built: run the sources
  }
  const gateway = spawnScript(entry, { LOG_LEVEL: 'warn', NODE_ENV: 'production', ...env });
  await gateway.line((l) => l.includes('listening'), 120_000);
  return gateway;
}

export async function startSink(): Promise<{
  url: string;
  child: Child;
  stats(): Promise<SinkStats>;
}> {
  const child = spawnScript('bench/vendor-sink.ts');
  const line = await child.line((l) => l.startsWith('{"port"'));
  const url = `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`;
  return {
    url,
    child,
    stats: async () => (await (await fetch(`${url}/stats`)).json()) as SinkStats,
  };
}

export interface SinkStats {
  requests: { braze: number; mixpanel: number };
  delivered: { braze: number; mixpanel: number };
  duplicates: number;
  orderViolations: number;
}

/** A fresh database on the server of `baseUrl`, and a function that drops it. */
export async function scratchDatabase(
  baseUrl: string,
  name: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  const db = `igw_bench_${name}_${Date.now()}`;
  await admin.unsafe(`create database "${db}"`);
  const url = new URL(baseUrl);
  url.pathname = `/${db}`;
  return {
    url: url.toString(),
    drop: async () => {
      await admin.unsafe(`drop database if exists "${db}" with (force)`);
      await admin.end();
    },
  };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** The smallest bucket bound under which `p` % of a Prometheus histogram's observations fall. */
export function histogramPercentile(metrics: string, name: string, p: number): number {
  const buckets = [
    ...metrics.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\d+)`, 'gm')),
  ]
    .map((m) => ({ le: m[1] === '+Inf' ? Infinity : Number(m[1]), n: Number(m[2]) }))
    .sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)?.n ?? 0;
  return buckets.find((b) => b.n >= (p / 100) * total)?.le ?? NaN;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Runs node with `args` from the package root, as an npm script does, keeping only the last
 * `keep` characters of its output: a server that logs every request for half an hour would
 * otherwise fill this process's memory. `exited` tells whether it ended, and how.
 */
export function spawnNode(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  keep = 64 * 1024,
): Child & { exited(): string | null } {
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  let partial = '';
  let ended: string | null = null;
  const waiters: { match: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  const onData = (d: Buffer) => {
    const text = partial + d.toString();
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      for (const w of waiters.filter((w) => w.match(l))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(l);
      }
    }
    tail = (tail + d.toString()).slice(-keep);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exit = new Promise<number | null>((resolve) =>
    child.on('exit', (code, signal) => {
      ended = signal ? `killed by ${signal}` : `exited with code ${code}`;
      resolve(code);
    }),
  );
  let peak = 0;
  return {
    process: child,
    output: () => tail,
    exited: () => ended,
    line: (match, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(new Error(`${args.join(' ')}: no expected line in ${timeoutMs} ms\n${tail}`)),
          timeoutMs,
        );
        void exit.then(() =>
          setTimeout(() => reject(new Error(`${args.join(' ')} ${ended}\n${tail}`)), 100),
        );
        waiters.push({ match, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      }),
    peakRssMiB: () => peak,
    sampleRss: () => {
      const kb = rssKiB(child.pid);
      if (kb !== null) peak = Math.max(peak, kb / 1024);
    },
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exit;
    },
  };
}

/** Resident set of a process, in KiB; null once it has exited. */
export function rssKiB(pid: number | undefined): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  } catch {
    return null;
  }
}
