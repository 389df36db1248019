/**
 * Database time limits and lost races: a request that waits too long for another's locks, or
 * whose statement runs past its limit, is answered UNAVAILABLE with a reason and a retry hint,
 * changes nothing, gives its connection back, and is counted in /metrics. The limits are
 * PostgreSQL's (the embedded database runs one statement at a time and has none).
 */
import postgres from 'postgres';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { TransactionRetriesExhaustedError } from '../../src/db/transaction.js';
import { createFormatError } from '../../src/http/format-error.js';
import { anEvent, anExternalId } from '../helpers/builders.js';
import { onPostgres, testDatabaseUrl } from '../helpers/database.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { holdLocks } from '../helpers/held-locks.js';

const TRACK = `mutation ($input: TrackUsersInput!) { trackUsers(input: $input) { eventsProcessed } }`;
const EVENTS = `query ($x: String!) { profile(by: { externalId: $x }) { events { name count } } }`;

describe('a transaction that lost every race', () => {
  it('is answered UNAVAILABLE (CONTENTION) with a retry hint, not as an internal error', () => {
    const seen: string[] = [];
    const format = createFormatError(pino({ level: 'silent' }), (reason) => seen.push(reason));
    const lost = new TransactionRetriesExhaustedError(8, {
      cause: Object.assign(new Error('deadlock detected'), { code: '40P01' }),
    });
    const formatted = format({ message: 'x', path: ['identifyUsers'] }, lost);
    expect(formatted.extensions).toEqual({
      code: 'UNAVAILABLE',
      reason: 'CONTENTION',
      retryAfterMs: 100,
    });
    expect(formatted.message).not.toMatch(/deadlock|40P01/);
    expect(seen).toEqual(['CONTENTION']);
  });

  it('maps each database time limit, looked up through wrapped errors', () => {
    const format = createFormatError(pino({ level: 'silent' }));
    const wrapped = (code: string) =>
      new Error('Failed query', { cause: Object.assign(new Error('timeout'), { code }) });
    const reasons = ['55P03', '57014', '25P03'].map(
      (code) => format({ message: 'x' }, wrapped(code)).extensions?.['reason'],
    );
    expect(reasons).toEqual(['LOCK_TIMEOUT', 'STATEMENT_TIMEOUT', 'TRANSACTION_TIMEOUT']);
    expect(format({ message: 'x' }, wrapped('23503')).extensions?.['code']).toBe(
      'INTERNAL_SERVER_ERROR',
    );
  });
});

describe.runIf(onPostgres)('database time limits (PostgreSQL)', () => {
  let blocker: postgres.Sql;
  beforeAll(() => {
    blocker = postgres(testDatabaseUrl()!, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await blocker?.end();
  });

  /** Holds the profile row of `externalId` locked until the returned release is called. */
  const holdProfile = (workspaceId: string, externalId: string) =>
    holdLocks(
      blocker,
      (tx) => tx`select id from profiles
        where workspace_id = ${workspaceId} and external_id = ${externalId} for update`,
    );

  async function scenario(env: Record<string, string>, reason: string) {
    // Two connections: the failed calls must give theirs back for the later ones to run.
    const gw: TestGateway = await startTestGateway({ ...env, DATABASE_POOL_SIZE: '2' });
    try {
      const { workspaceId, key } = await gw.newWorkspace();
      const externalId = anExternalId();
      const track = (name: string) =>
        gw.gql(key, TRACK, { input: { events: [anEvent({ externalId, name })] } });
      expect((await track('first')).data).toEqual({ trackUsers: { eventsProcessed: 1 } });

      const release = await holdProfile(workspaceId, externalId);
      const refused = [];
      for (let i = 0; i < 3; i++) refused.push(await track('blocked'));
      await release();

      for (const res of refused) {
        expect(res.data).toBeNull();
        expect(res.errors?.[0]?.extensions).toEqual({
          code: 'UNAVAILABLE',
          reason,
          retryAfterMs: 1000,
        });
        expect(res.errors?.[0]?.message).not.toMatch(/postgres|select|canceling|lock/i);
      }
      // Nothing of the refused calls was written; the retry after the lock is gone succeeds.
      expect((await track('retried')).data).toEqual({ trackUsers: { eventsProcessed: 1 } });
      const events = await gw.gql(key, EVENTS, { x: externalId });
      const names = (events.data?.['profile'] as { events: { name: string }[] }).events.map(
        (e) => e.name,
      );
      expect(names.sort()).toEqual(['first', 'retried']);

      const metrics = await (await fetch(gw.url.replace('/graphql', '/metrics'))).text();
      expect(metrics).toContain(`igw_unavailable_total{reason="${reason}"} 3`);
    } finally {
      await gw.close();
    }
  }

  it('answers LOCK_TIMEOUT when a lock is held past DATABASE_LOCK_TIMEOUT_MS', async () => {
    await scenario({ DATABASE_LOCK_TIMEOUT_MS: '200' }, 'LOCK_TIMEOUT');
  });

  it('answers STATEMENT_TIMEOUT when a statement runs past DATABASE_STATEMENT_TIMEOUT_MS', async () => {
    await scenario(
      { DATABASE_LOCK_TIMEOUT_MS: '0', DATABASE_STATEMENT_TIMEOUT_MS: '200' },
      'STATEMENT_TIMEOUT',
    );
  });
});
