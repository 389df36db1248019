/**
 * How the tables are laid out on Citus. Citus itself cannot be installed on these machines, so
 * the calls the gateway makes are checked against a stand-in of Citus' documented functions
 * (create_reference_table, create_distributed_table with colocate_with, pg_dist_partition) in a
 * scratch PostgreSQL database; the rest checks the schema against what Citus requires.
 */
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openDatabase, type Database } from '../../src/db/client.js';
import {
  DISTRIBUTED_TABLES,
  DISTRIBUTION_COLUMN,
  distributeIfCitus,
  distributeTables,
  hasCitus,
  PLACEMENT,
  REFERENCE_TABLES,
  schemaTables,
} from '../../src/db/distribution.js';
import { runMigrations } from '../../src/db/migrate.js';
import { rowsOf } from '../../src/db/rows.js';
import { createScratchDatabase, onPostgres, openTestDatabase } from '../helpers/database.js';

let database: Database;
beforeAll(async () => {
  database = await openTestDatabase();
});
afterAll(async () => {
  await database?.close();
});

describe('table placement', () => {
  it('classifies every table of the schema and of the migrated database, and no other', async () => {
    const classified = Object.keys(PLACEMENT).sort();
    expect(schemaTables().sort()).toEqual(classified);
    const inDatabase = rowsOf<{ name: string }>(
      await database.db.execute(sql`
        select table_name as name from information_schema.tables
        where table_schema = 'public' and table_type = 'BASE TABLE' order by 1`),
    ).map((r) => r.name);
    expect(inDatabase).toEqual(classified);
  });

  it('gives every distributed table the distribution column in each unique index', async () => {
    const indexes = rowsOf<{ table: string; index: string; columns: string[] }>(
      await database.db.execute(sql`
        select t.relname as table, i.relname as index,
          array(select a.attname::text from unnest(x.indkey) as k(n)
                join pg_attribute a on a.attrelid = t.oid and a.attnum = k.n) as columns
        from pg_index x
        join pg_class i on i.oid = x.indexrelid
        join pg_class t on t.oid = x.indrelid
        join pg_namespace s on s.oid = t.relnamespace and s.nspname = 'public'
        where x.indisunique`),
    );
    for (const table of DISTRIBUTED_TABLES) {
      const unique = indexes.filter((i) => i.table === table);
      expect(unique.length, `${table} has a primary key`).toBeGreaterThan(0);
      for (const i of unique) {
        expect(i.columns, `${i.index} includes ${DISTRIBUTION_COLUMN}`).toContain(
          DISTRIBUTION_COLUMN,
        );
      }
    }
  });

  it('has only foreign keys Citus accepts', async () => {
    const keys = rowsOf<{ from: string; to: string; columns: string[] }>(
      await database.db.execute(sql`
        select f.relname as from, t.relname as to,
          array(select a.attname::text from unnest(c.conkey) as k(n)
                join pg_attribute a on a.attrelid = f.oid and a.attnum = k.n) as columns
        from pg_constraint c
        join pg_class f on f.oid = c.conrelid
        join pg_class t on t.oid = c.confrelid
        where c.contype = 'f'`),
    );
    for (const k of keys) {
      // A reference table cannot point at a distributed one; two distributed tables only
      // through the distribution column, so that both rows live on one shard.
      if (PLACEMENT[k.from] === 'reference') expect(PLACEMENT[k.to], k.from).toBe('reference');
      if (PLACEMENT[k.from] === 'distributed' && PLACEMENT[k.to] === 'distributed') {
        expect(k.columns, `${k.from} -> ${k.to}`).toContain(DISTRIBUTION_COLUMN);
      }
    }
  });

  it('leaves a database without the citus extension as it is', async () => {
    expect(await hasCitus(database.db)).toBe(false);
    expect(await distributeIfCitus(database.db)).toBeNull();
  });
});

describe.runIf(onPostgres)('distributing on a database with Citus', () => {
  let scratch: { url: string; drop: () => Promise<void> };
  let client: postgres.Sql;

  beforeAll(async () => {
    scratch = await createScratchDatabase('citus');
    client = postgres(scratch.url, { max: 1, onnotice: () => {} });
    await client.unsafe(CITUS_STAND_IN);
  });
  afterAll(async () => {
    await client?.end();
    await scratch?.drop();
  });

  it('makes reference tables, then distributed ones co-located, once', async () => {
    const migrating = await openDatabase({ url: scratch.url, dataDir: null });
    await runMigrations(migrating, scratch.url);
    await migrating.close();
    // The migration ran on a database without the extension: nothing distributed yet.
    expect(await client`select count(*)::int as n from citus_calls`).toEqual([{ n: 0 }]);

    const db = drizzle(client);
    const changed = await distributeTables(db);
    expect(changed.slice(0, REFERENCE_TABLES.length).sort()).toEqual([...REFERENCE_TABLES].sort());
    expect(changed.slice(REFERENCE_TABLES.length).sort()).toEqual([...DISTRIBUTED_TABLES].sort());
    const calls = await client<{ fn: string; tbl: string; col: string; colocate: string }[]>`
      select fn, tbl, col, colocate from citus_calls order by n`;
    const distributed = calls.filter((c) => c.fn === 'create_distributed_table');
    const [anchor, ...rest] = distributed;
    expect(anchor).toMatchObject({ col: DISTRIBUTION_COLUMN, colocate: 'default' });
    for (const c of rest) {
      expect(c).toMatchObject({ col: DISTRIBUTION_COLUMN, colocate: anchor.tbl });
    }
    // Every reference table before the first distributed one (foreign keys point at them).
    const firstDistributed = calls.findIndex((c) => c.fn === 'create_distributed_table');
    expect(calls.slice(0, firstDistributed).every((c) => c.fn === 'create_reference_table')).toBe(
      true,
    );

    expect(await distributeTables(db)).toEqual([]);
    expect(await client`select count(*)::int as n from citus_calls`).toEqual([{ n: calls.length }]);
  });
});

/**
 * Citus' functions as documented, recording their calls; pg_dist_partition lists what they made.
 * Unqualified, the gateway's statements find these as they would find Citus' own.
 */
const CITUS_STAND_IN = `
  create table pg_dist_partition (logicalrelid regclass primary key);
  create table citus_calls (n serial, fn text, tbl text, col text, colocate text);
  create function create_reference_table(table_name regclass) returns void language sql as $$
    insert into citus_calls (fn, tbl) values ('create_reference_table', table_name::text);
    insert into pg_dist_partition values (table_name);
  $$;
  create function create_distributed_table(table_name regclass, distribution_column text,
      distribution_type text default 'hash', colocate_with text default 'default')
    returns void language sql as $$
    insert into citus_calls (fn, tbl, col, colocate)
      values ('create_distributed_table', table_name::text, distribution_column, colocate_with);
    insert into pg_dist_partition values (table_name);
  $$;`;
