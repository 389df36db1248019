/**
 * The servers a benchmark measures, each in a process of its own: the gateway exactly as
 * `npm start` runs it (the command is read from package.json), and the smallest Apollo server
 * as the ceiling. Also how long each takes to answer after it is spawned, and the resident
 * memory it holds.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

import { buildSync } from 'esbuild';

import { packageRoot } from '../src/lib/package-root.js';
import { rssKiB, spawnNode, type Child } from './processes.js';

const root = packageRoot();
/** Under the package, so that the build copied here still finds package.json and node_modules. */
const cache = path.join(root, 'node_modules', '.cache', 'identity-gateway-bench');

export interface Server {
  readonly child: Child & { exited(): string | null };
  /** The GraphQL endpoint. */
  readonly url: string;
  readonly spawnedAt: number;
}

/**
 * Builds dist/ as `npm run build` does, so that the gateway runs the current code, and
 * copies the build aside: a rebuild of dist/ while the benchmark runs must not change the code
 * under measurement halfway. Returns which code that is (the commit, and whether src/ differed).
 */
export function buildGateway(): string {
  const git = (...args: string[]) =>
    spawnSync('git', args, { cwd: root, encoding: 'utf8' }).stdout?.trim() ?? '';
  const commit = git('rev-parse', '--short', 'HEAD') || 'unknown';
  const changed = git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean).length;
  const result = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: ['ignore', 2, 2] });
  if (result.status !== 0) throw new Error('npm run build failed; the gateway cannot be measured');
  rmSync(path.join(cache, 'dist'), { recursive: true, force: true });
  cpSync(path.join(root, 'dist'), path.join(cache, 'dist'), { recursive: true });
  return `commit ${commit}${changed ? `, with ${changed} uncommitted changes in src/` : ''}`;
}

/** The arguments `npm start` gives node, its entry point taken from the copy of the build. */
function startArgs(): string[] {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const [command, ...args] = pkg.scripts['start'].split(/\s+/);
  if (command !== 'node') throw new Error(`npm start runs ${command}, not node`);
  return args.map((a) => (a.startsWith('dist/') ? path.join(cache, a) : a));
}

/** Removes the copied build and the compiled Apollo server. */
export function removeBuilds(): void {
  rmSync(cache, { recursive: true, force: true });
}

/**
 * The settings under which the gateway is measured; `env` adds the database. Logging stays at
 * its default level, as in production (a line for every mutation and every failure; queries
 * answered without error log at debug), which also prints the line that tells the port it chose.
 */
export const GATEWAY_ENV = {
  NODE_ENV: 'production',
  RATE_LIMIT_PER_MINUTE: '1000000000',
  OUTBOX_DISPATCHER: 'false',
  PORT: '0',
  LOG_LEVEL: 'info',
};

/** A gateway that ended before it was asked to: stopped from outside, or crashed. */
export class GatewayEnded extends Error {}

export async function startGateway(env: Record<string, string>): Promise<Server> {
  const spawnedAt = performance.now();
  const child = spawnNode(startArgs(), { ...GATEWAY_ENV, ...env });
  try {
    const line = await child.line((l) => l.includes('identity-gateway listening'), 300_000);
    const url = (JSON.parse(line) as { url: string }).url.replace('0.0.0.0', '127.0.0.1');
    return { child, url, spawnedAt };
  } catch (error) {
    await child.stop('SIGKILL');
    const ended = child.exited();
    throw ended ? new GatewayEnded(`the gateway ${ended} while starting`) : error;
  }
}

/** What a server said that is not a request log line (the gateway logs every request). */
export function lastWords(server: Server): string {
  return server.child
    .output()
    .split('\n')
    .filter((l) => l && !l.includes('"graphql request"'))
    .slice(-10)
    .join('\n');
}

/**
 * A reference server (bench/apollo-hello.ts, bench/apollo-profile.ts) compiled once to
 * JavaScript, so that it starts as the gateway's build does; its packages stay in node_modules.
 */
export function compileReference(name: 'apollo-hello' | 'apollo-profile'): string {
  mkdirSync(cache, { recursive: true });
  const outfile = path.join(cache, `${name}.mjs`);
  buildSync({
    entryPoints: [path.join(root, 'bench', `${name}.ts`)],
    outfile,
    bundle: true,
    packages: 'external',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'error',
  });
  return outfile;
}

/** A compiled reference server, started with `env`; resolves once it listens. */
export async function startApollo(script: string, env: NodeJS.ProcessEnv = {}): Promise<Server> {
  const spawnedAt = performance.now();
  const child = spawnNode([script], { ...env, NODE_ENV: 'production', PORT: '0' });
  try {
    const line = await child.line((l) => l.startsWith('{"url"'), 120_000);
    return { child, url: (JSON.parse(line) as { url: string }).url, spawnedAt };
  } catch (error) {
    await child.stop('SIGKILL');
    throw error;
  }
}

/** Milliseconds from spawning a server to the first 200 of `probe`; the server is stopped. */
export async function timeToAnswer(
  start: () => Promise<Server>,
  probe: (server: Server) => Promise<Response>,
): Promise<number> {
  const server = await start();
  try {
    for (;;) {
      const ok = await probe(server).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return performance.now() - server.spawnedAt;
      const ended = server.child.exited();
      if (ended) throw new GatewayEnded(`the server ${ended} before it answered`);
      if (performance.now() - server.spawnedAt > 60_000) throw new Error('never answered 200');
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    await server.child.stop();
  }
}

export const readyz = (s: Server) => fetch(s.url.replace(/\/graphql$/, '/readyz'));
export const hello = (s: Server) =>
  fetch(s.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ hello }' }),
  });

/** The largest resident set of a process while `work` runs, sampled every 50 ms, in MiB. */
export async function peakRss<T>(
  pid: number | undefined,
  work: () => Promise<T>,
): Promise<{ result: T; peakMiB: number }> {
  let peak = rssKiB(pid) ?? 0;
  const timer = setInterval(() => (peak = Math.max(peak, rssKiB(pid) ?? 0)), 50);
  try {
    const result = await work();
    return { result, peakMiB: peak / 1024 };
  } finally {
    clearInterval(timer);
  }
}
