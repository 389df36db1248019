import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AuthService } from '../../src/auth/auth-service.js';
import { KeyCache } from '../../src/auth/key-cache.js';
import type { Database } from '../../src/db/client.js';
import { openTestDatabase } from '../helpers/database.js';

let database: Database;
beforeAll(async () => {
  database = await openTestDatabase();
});
afterAll(async () => {
  await database?.close();
});

describe('the API key cache', () => {
  it('forgets an entry after its time, and on demand', () => {
    let now = 1_000;
    const cache = new KeyCache<{ keyId: string }>(500, () => now);
    cache.set('h1', { keyId: 'k1' });
    cache.set('h2', { keyId: 'k2' });
    expect(cache.get('h1')).toEqual({ keyId: 'k1' });
    now += 499;
    expect(cache.get('h1')).toBeDefined();
    cache.forgetKey('k2');
    expect(cache.get('h2')).toBeUndefined();
    now += 1;
    expect(cache.get('h1')).toBeUndefined();
  });

  it('stops a revoked key at once in the process that revoked it, and within its time in every other', async () => {
    // Two services over one database stand for two gateway processes.
    const here = new AuthService(database.db, 1_000);
    const elsewhere = new AuthService(database.db, 1_000);
    const { workspace, key } = await here.createWorkspace({ name: 'cache' });
    const header = `Bearer ${key.key}`;
    const admin = await here.authenticate(header);
    await elsewhere.authenticate(header);
    const revokedAt = Date.now();
    await here.revokeApiKey(admin, admin.keyId);
    await expect(here.authenticate(header)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    // The other process still trusts its cached lookup for at most its cache time.
    for (;;) {
      const asked = Date.now();
      const refused = await elsewhere.authenticate(header).then(
        () => false,
        () => true,
      );
      if (refused) break;
      expect(asked - revokedAt).toBeLessThan(1_000);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(workspace.id).toBe(admin.workspaceId);
  });
});
