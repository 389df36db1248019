import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { SourceMap } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { buildGateway } from '../../scripts/build.js';
import { packageRoot } from '../../src/lib/package-root.js';

const root = packageRoot();
const children: ChildProcess[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/**
 * Starts the gateway on the embedded database in `dataDir`: from `src/main.ts` through tsx, or
 * with `args` from a build, as `npm start` runs it. It listens on a free port of its choosing
 * (PORT=0), which `origin()` reads from its log once it listens.
 */
function startGateway(
  dataDir: string,
  args: readonly string[] = ['--import', 'tsx', 'src/main.ts'],
  extraEnv: NodeJS.ProcessEnv = {},
) {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATA_DIR: dataDir,
    PORT: '0',
    LOG_LEVEL: 'info',
    ...extraEnv,
  };
  delete env['DATABASE_URL'];
  const child = spawn(process.execPath, [...args], { cwd: root, env });
  children.push(child);
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  /** Waits for the listening line (and for whatever else `ready` needs to see). */
  const listening = async (ready: (out: string) => boolean = () => true) => {
    for (let i = 0; i < 600 && !(output.includes('listening') && ready(output)); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    return output;
  };
  /** `http://127.0.0.1:<port>`, from the listening log line. */
  const origin = () => {
    const line = output.split('\n').find((l) => l.includes('identity-gateway listening'));
    if (!line) throw new Error(`not listening yet: ${output}`);
    return new URL((JSON.parse(line) as { url: string }).url.replace('0.0.0.0', '127.0.0.1'))
      .origin;
  };
  return { child, exited, listening, origin, output: () => output };
}

describe('the gateway process', () => {
  it('prints an admin key once, serves GraphQL with it, and refuses a second process on the same folder', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'igw-proc-'));
    dirs.push(dataDir);
    const first = startGateway(dataDir);
    // The log line and the key banner go out on their own: wait for both.
    const out = await first.listening((o) => /igw_[A-Za-z0-9_-]+/.test(o));
    const key = /igw_[A-Za-z0-9_-]+/.exec(out)?.[0];
    expect(key, out).toBeDefined();

    const res = await fetch(`${first.origin()}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: '{ profiles { totalCount } }' }),
    });
    expect(await res.json()).toEqual({ data: { profiles: { totalCount: 0 } } });

    const second = startGateway(dataDir);
    expect(await second.exited).toBe(3);
    expect(second.output()).toMatch(/in use by another gateway process/);

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    // A clean stop closes the database and releases the folder.
    expect(existsSync(path.join(dataDir, 'gateway.lock'))).toBe(false);

    // A restart on the same folder keeps the key and prints no new one.
    const third = startGateway(dataDir);
    const again = await third.listening();
    expect(again).not.toMatch(/igw_/);
    const after = await fetch(`${third.origin()}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: '{ profiles { totalCount } }' }),
    });
    expect(after.status).toBe(200);
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
  }, 120_000);

  it('runs from the production build: one bundled file, GraphQL, the playground and its assets, stack traces in the sources', async () => {
    // Built as `npm run build` builds dist/, into a folder of its own inside the package (so
    // that the packages left outside the bundle resolve from node_modules, as from dist/).
    const outdir = path.join(root, 'node_modules', '.cache', `igw-build-test-${process.pid}`);
    dirs.push(outdir);
    const entry = await buildGateway(outdir);
    // Apollo's query hash is Node's native SHA-256, not the JavaScript fallback of its helper.
    expect(readFileSync(entry, 'utf8')).not.toContain('node_modules/sha.js');
    // Started as `npm start` starts it: node, with the flags of the start script, on the build.
    const start: string = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).scripts
      .start;
    const [command, ...flags] = start.split(/\s+/);
    expect(command).toBe('node');
    expect(flags.pop()).toBe('dist/main.mjs');
    expect(flags).toContain('--enable-source-maps');

    const dataDir = await mkdtemp(path.join(tmpdir(), 'igw-build-'));
    dirs.push(dataDir);
    const gateway = startGateway(dataDir, [...flags, entry], {
      NODE_ENV: 'development',
    });
    // As above: the log line and the key banner go out on their own, wait for both.
    const out = await gateway.listening((o) => /igw_[A-Za-z0-9_-]+/.test(o));
    const key = /igw_[A-Za-z0-9_-]+/.exec(out)?.[0];
    expect(key, out).toBeDefined();
    const url = gateway.origin();
    const graphql = (query: string) =>
      fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ query }),
      }).then((r) => r.json());
    const anonId = '6f1c2a4e-8b3d-4c5e-9f70-1a2b3c4d5e6f';
    expect(
      await graphql(`mutation { trackUsers(input: { events: [{ anonId: "${anonId}",
        name: "signup", time: "2026-01-02T03:04:05Z" }] }) { eventsProcessed } }`),
    ).toEqual({ data: { trackUsers: { eventsProcessed: 1 } } });
    expect(
      await graphql(`mutation { identifyUsers(input: { aliasesToIdentify: [{ externalId: "u1",
        userAlias: { aliasLabel: "anon_id", aliasName: "${anonId}" } }] }) {
        results { outcome } } }`),
    ).toEqual({ data: { identifyUsers: { results: [{ outcome: 'IDENTIFIED' }] } } });
    expect(
      await graphql('{ profile(by: { externalId: "u1" }) { events { name count firstAt } } }'),
    ).toEqual({
      data: {
        profile: { events: [{ name: 'signup', count: 1, firstAt: '2026-01-02T03:04:05.000Z' }] },
      },
    });

    // Request lines are gathered before they are written, but go out within about a second
    // while the process runs, not only at exit: one for each mutation (the query answered
    // without error writes its line at debug, below the default level).
    const logged = () => gateway.output().split('"msg":"graphql request"').length - 1;
    for (let i = 0; i < 50 && logged() < 2; i++) await new Promise((r) => setTimeout(r, 100));
    expect(logged(), gateway.output()).toBe(2);

    const page = await fetch(`${url}/graphql`, { headers: { accept: 'text/html' } });
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="(\/playground\/[^"]+)"/g)].map((m) => m[1]);
    expect(assets.length).toBeGreaterThanOrEqual(3);
    for (const asset of assets) expect((await fetch(`${url}${asset}`)).status, asset).toBe(200);

    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);

    // Stack traces point at the TypeScript sources: the bundle links its map, which names them.
    expect(readFileSync(entry, 'utf8').trimEnd()).toMatch(/\/\/# sourceMappingURL=main\.mjs\.map$/);
    const map = JSON.parse(readFileSync(`${entry}.map`, 'utf8')) as { sources: string[] };
    const sources = map.sources.map((s) => path.resolve(outdir, s));
    expect(sources).toContain(path.join(root, 'src', 'main.ts'));
    expect(sources).toContain(path.join(root, 'src', 'identity', 'identity-service.ts'));
    // And they map back to the right place: a function of the bundle to its own line.
    const bundle = readFileSync(entry, 'utf8');
    const at = bundle.indexOf('async function startGateway(');
    const before = bundle.slice(0, at).split('\n');
    const found = new SourceMap(JSON.parse(readFileSync(`${entry}.map`, 'utf8'))).findEntry(
      before.length - 1,
      before.at(-1)!.length,
    ) as { originalSource?: string; originalLine?: number };
    expect(path.resolve(outdir, found.originalSource ?? '')).toBe(
      path.join(root, 'src', 'gateway.ts'),
    );
    const lines = readFileSync(path.join(root, 'src', 'gateway.ts'), 'utf8').split('\n');
    expect(lines[found.originalLine ?? -1]).toMatch(/^export async function startGateway\(/);
  }, 120_000);
});
