import { randomUUID } from 'node:crypto';

import { sql, type SQL } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Database } from '../../src/db/client.js';
import { createServices } from '../../src/gateway.js';
import type { Services } from '../../src/http/context.js';
import { testConfig } from '../helpers/config.js';
import { openTestDatabase } from '../helpers/database.js';
import { explainAnalyze, rowsRead } from '../helpers/plans.js';

let database: Database;
let services: Services;
let captured: { query: string; params: readonly unknown[] }[] | null = null;

beforeAll(async () => {
  database = await openTestDatabase({
    onQuery: (query, params) => captured?.push({ query, params }),
  });
  services = createServices(database, testConfig());
});
afterAll(async () => {
  await database?.close();
});

const ALL = {
  aliases: true,
  events: true,
  dailyCounts: true,
  purchases: true,
  pushTokens: true,
  appSessions: true,
};

async function workspaceWithUsers(users: number, prefix: string) {
  const { workspace } = await services.auth.createWorkspace({ name: randomUUID() });
  const scope = { workspaceId: workspace.id, anonIdLabel: workspace.anonIdLabel };
  const time = new Date(Date.now() - 3_600_000);
  for (let from = 0; from < users; from += 75) {
    const ids = Array.from(
      { length: Math.min(75, users - from) },
      (_, i) => `${prefix}${from + i}`,
    );
    await services.track.track(scope, {
      attributes: ids.map((externalId) => ({ externalId, firstName: 'A' })),
      events: ids.map((externalId) => ({ externalId, name: 'visit', time })),
      purchases: ids.map((externalId) => ({ externalId, productId: 'p', priceCents: 100, time })),
      sessions: ids.map((externalId) => ({ externalId, appId: 'app', startedAt: time })),
      pushTokens: ids.map((externalId) => ({ externalId, appId: 'app', token: `t-${externalId}` })),
    });
    for (let i = 0; i < ids.length; i += 50) {
      await services.aliases.createAliases(
        scope,
        ids.slice(i, i + 50).map((externalId) => ({
          externalId,
          aliasLabel: 'crm',
          aliasName: `crm-${externalId}`,
        })),
      );
    }
  }
  return scope;
}

/** Re-binds a captured statement's `$n` placeholders as parameters of a drizzle SQL object. */
function rebind(query: string, params: readonly unknown[]): SQL {
  const parts = query.split(/\$(\d+)\b/);
  return sql.join(
    parts.map((part, i) => (i % 2 === 0 ? sql.raw(part) : sql`${params[Number(part) - 1]}`)),
  );
}

describe('profile(by:) with its children in one statement', () => {
  it('reads the one profile and its own children, by index, and nothing of another workspace', async () => {
    const scope = await workspaceWithUsers(600, 'u-');
    const other = await workspaceWithUsers(75, 'u-');
    captured = [];
    const found = await services.profiles.findProfileWith(scope, { externalId: 'u-7' }, ALL);
    const statements = captured;
    captured = null;
    expect(found?.profile.externalId).toBe('u-7');
    expect(found?.aliases?.map((a) => a.aliasName)).toEqual(['crm-u-7']);
    expect(found?.events?.map((e) => e.count)).toEqual([1]);
    expect(found?.purchases).toMatchObject({ count: 1, totalCents: 100 });
    expect(found?.pushTokens?.map((t) => t.token)).toEqual(['t-u-7']);
    expect(found?.appSessions?.map((a) => a.sessionCount)).toEqual([1]);
    const elsewhere = await services.profiles.findProfileWith(other, { externalId: 'u-7' }, ALL);
    expect(elsewhere?.profile.id).not.toBe(found?.profile.id);
    expect(elsewhere?.aliases?.[0]?.profileId).toBe(elsewhere?.profile.id);

    expect(statements).toHaveLength(1);
    const [{ query, params }] = statements;
    const plan = await explainAnalyze(database.db, rebind(query, params));
    // The profile, its crm alias, event, day, purchase, token and app: a handful of rows.
    expect(rowsRead(plan)).toBeLessThan(20);
  });
});
