import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { packageRoot } from '../../src/lib/package-root.js';

const root = packageRoot();
const children: ChildProcess[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Starts `src/main.ts` like `npm start` does, on the embedded database in `dataDir`. */
function startGateway(dataDir: string, port: number) {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATA_DIR: dataDir,
    PORT: String(port),
    LOG_LEVEL: 'info',
  };
  delete env['DATABASE_URL'];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: root, env });
  children.push(child);
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const listening = async () => {
    for (let i = 0; i < 600 && !output.includes('listening'); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    return output;
  };
  return { child, exited, listening, output: () => output };
}

describe('the gateway process', () => {
  it('prints an admin key once, serves GraphQL with it, and refuses a second process on the same folder', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'igw-proc-'));
    dirs.push(dataDir);
    const port = 40000 + (process.pid % 10000);
    const first = startGateway(dataDir, port);
    const out = await first.listening();
    const key = /igw_[A-Za-z0-9_-]+/.exec(out)?.[0];
    expect(key, out).toBeDefined();

    const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: '{ profiles { totalCount } }' }),
    });
    expect(await res.json()).toEqual({ data: { profiles: { totalCount: 0 } } });

    const second = startGateway(dataDir, port + 1);
    expect(await second.exited).toBe(3);
    expect(second.output()).toMatch(/in use by another gateway process/);

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    // A clean stop closes the database and releases the folder.
    expect(existsSync(path.join(dataDir, 'gateway.lock'))).toBe(false);

    // A restart on the same folder keeps the key and prints no new one.
    const third = startGateway(dataDir, port + 2);
    const again = await third.listening();
    expect(again).not.toMatch(/igw_/);
    const after = await fetch(`http://127.0.0.1:${port + 2}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: '{ profiles { totalCount } }' }),
    });
    expect(after.status).toBe(200);
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
  }, 120_000);
});
