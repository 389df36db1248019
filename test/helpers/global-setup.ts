/**
 * Once per test run: on PostgreSQL (DATABASE_URL set) a fresh database is created, migrated and
 * dropped afterwards; on the embedded database a migrated template is dumped once, so each test
 * file starts from it instead of migrating again.
 */
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import postgres from 'postgres';
import type { TestProject } from 'vitest/node';

import { openDatabase } from '../../src/db/client.js';
import { runMigrations } from '../../src/db/migrate.js';
import { assertTestDatabase } from './test-database-guard.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string | null;
    pgliteTemplate: string | null;
  }
}

export default async function setup(project: TestProject) {
  const baseUrl = process.env['DATABASE_URL'];
  if (baseUrl) {
    const name = `igw_test_${Date.now()}_${randomBytes(3).toString('hex')}`;
    const url = new URL(baseUrl);
    url.pathname = `/${name}`;
    assertTestDatabase(url.toString());
    const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database "${name}"`);
    const database = await openDatabase({ url: url.toString(), dataDir: null });
    await runMigrations(database, url.toString());
    await database.close();
    project.provide('databaseUrl', url.toString());
    project.provide('pgliteTemplate', null);
    return async () => {
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end();
    };
  }
  const database = await openDatabase({ url: null, dataDir: null });
  await runMigrations(database, null);
  const dump = await database.dumpDataDir!();
  await database.close();
  const file = path.join(
    tmpdir(),
    `igw-template-${process.pid}-${randomBytes(3).toString('hex')}.tar.gz`,
  );
  await writeFile(file, Buffer.from(await dump.arrayBuffer()));
  project.provide('databaseUrl', null);
  project.provide('pgliteTemplate', file);
  return async () => {
    await rm(file, { force: true });
  };
}
