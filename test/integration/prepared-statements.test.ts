import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Database } from '../../src/db/client.js';
import { PreparePolicy } from '../../src/db/prepared-statements.js';
import { rowsOf } from '../../src/db/rows.js';
import { openTestDatabase, testDatabaseUrl } from '../helpers/database.js';

describe('which statements are prepared', () => {
  it('prepares a text from its second use on, and no more texts than its capacity', () => {
    const policy = new PreparePolicy(2);
    expect(policy.shouldPrepare('a')).toBe(false);
    expect(policy.shouldPrepare('a')).toBe(true);
    expect(policy.shouldPrepare('a')).toBe(true);
    expect(policy.shouldPrepare('b')).toBe(false);
    expect(policy.shouldPrepare('b')).toBe(true);
    // Two texts prepared: a third is never prepared, however often it comes.
    expect(policy.shouldPrepare('c')).toBe(false);
    expect(policy.shouldPrepare('c')).toBe(false);
    expect(policy.shouldPrepare('a')).toBe(true);
  });
});

describe('prepared statements on the PostgreSQL server', () => {
  let database: Database;
  beforeAll(async () => {
    // One connection, so that the session asked about is the one that ran the statements.
    if (testDatabaseUrl() !== null) database = await openTestDatabase({ poolSize: 1 });
  });
  afterAll(async () => {
    await database?.close();
  });

  it.runIf(testDatabaseUrl() !== null)(
    'names a repeated drizzle statement once per connection, in transactions too',
    async () => {
      // The text the server sees (the value travels as a parameter).
      const text = 'select $1::text as probe, 1 as n';
      const probe = () => database.db.execute(sql`select ${'a value'}::text as probe, 1 as n`);
      const named = async (statement: string) =>
        rowsOf<{ n: number }>(
          await database.db.execute(
            sql`select count(*)::int as n from pg_prepared_statements where statement = ${statement}`,
          ),
        )[0].n;
      await probe();
      expect(await named(text)).toBe(0);
      await probe();
      expect(await named(text)).toBe(1);
      await probe();
      expect(await named(text)).toBe(1);

      const inTransaction = 'select $1::text as probe, 2 as n';
      for (let i = 0; i < 2; i++) {
        await database.db.transaction(async (tx) => {
          await tx.execute(sql`select ${'a value'}::text as probe, 2 as n`);
        });
      }
      expect(await named(inTransaction)).toBe(1);
    },
  );
});
