/**
 * The suppression list as writers see it: which of the identifiers a request names were forgotten
 * with suppression. Identifiers are compared by fingerprint (HMAC-SHA-256 of the identifier key
 * under the workspace's erasure secret), so the list never holds an identifier itself.
 *
 * Callers ask after locking the identifiers, in a statement of its own: an erasure locks them
 * exclusively and its secret is made before its transaction, so a writer that gets the locks after
 * an erasure committed sees both the secret and the suppressions.
 */
import { createHmac } from 'node:crypto';

import { sql, type SQL } from 'drizzle-orm';

import type { Queryable } from '../db/client.js';
import { rowsOf } from '../db/rows.js';
import { textArray } from '../identity/store/sql-helpers.js';

/** The fingerprint of an identifier key (see identifierKey) under a workspace's secret. */
export function fingerprintOf(secret: string | Buffer, key: string): string {
  return createHmac('sha256', secret).update(key).digest('hex');
}

export class SuppressionList {
  /** Secrets never change once made, so a process keeps each one it has seen. */
  private readonly secrets = new Map<string, string>();

  /**
   * The keys among `keys` that are suppressed in the workspace. One statement reads the secret
   * and, under the secret known so far, the matching fingerprints; a second runs only the first
   * time this process sees a workspace's secret.
   */
  async suppressed(
    q: Queryable,
    workspaceId: string,
    keys: readonly string[],
  ): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const known = this.secrets.get(workspaceId) ?? null;
    let found = await this.lookup(q, workspaceId, keys, known);
    if (found.secret !== null && found.secret !== known) {
      this.secrets.set(workspaceId, found.secret);
      found = await this.lookup(q, workspaceId, keys, found.secret);
    }
    return found.keys;
  }

  private async lookup(
    q: Queryable,
    workspaceId: string,
    keys: readonly string[],
    secret: string | null,
  ): Promise<{ secret: string | null; keys: Set<string> }> {
    const byPrint = new Map(secret === null ? [] : keys.map((k) => [fingerprintOf(secret, k), k]));
    const rows = rowsOf<{ erasure_secret: string | null; fingerprint: string | null }>(
      await q.execute(suppressedQuery(workspaceId, [...byPrint.keys()])),
    );
    const matched = new Set<string>();
    for (const row of rows) {
      const key = row.fingerprint === null ? undefined : byPrint.get(row.fingerprint);
      if (key !== undefined) matched.add(key);
    }
    return { secret: rows[0]?.erasure_secret ?? null, keys: matched };
  }
}

/**
 * The workspace's erasure secret, beside each of these fingerprints that is on its suppression
 * list (exposed so that tests can EXPLAIN it: the fingerprints are found by the primary key, so
 * the length of the list does not matter).
 */
export function suppressedQuery(workspaceId: string, fingerprints: readonly string[]): SQL {
  return sql`
    select w.erasure_secret, s.fingerprint from workspaces w
    left join suppressions s on s.workspace_id = ${workspaceId}
      and s.fingerprint = any(${textArray(fingerprints)})
    where w.id = ${workspaceId}`;
}
