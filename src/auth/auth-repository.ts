/** The SQL for workspaces and API keys. */
import { and, eq, isNull, sql } from 'drizzle-orm';

import type { BrazeSettings, MixpanelSettings } from '../config/config.js';
import type { Db, Queryable } from '../db/client.js';
import { apiKeys, workspaces } from './auth.sql.js';

export interface KeyRecord {
  readonly id: string;
  readonly workspaceId: string;
  readonly anonIdLabel: string;
  readonly scopes: string[];
  readonly keyHash: string;
}

export type WorkspaceRow = typeof workspaces.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;

export class AuthRepository {
  private readonly keyByHash;
  private readonly workspaceById;

  constructor(private readonly db: Db) {
    // Every request authenticates: a prepared statement keeps that lookup cheap.
    this.keyByHash = db
      .select({
        id: apiKeys.id,
        workspaceId: apiKeys.workspaceId,
        anonIdLabel: workspaces.anonIdLabel,
        scopes: apiKeys.scopes,
        keyHash: apiKeys.keyHash,
      })
      .from(apiKeys)
      .innerJoin(workspaces, eq(workspaces.id, apiKeys.workspaceId))
      .where(and(eq(apiKeys.keyHash, sql.placeholder('hash')), isNull(apiKeys.revokedAt)))
      .prepare('auth_key_by_hash');
    this.workspaceById = db
      .select()
      .from(workspaces)
      .where(eq(workspaces.id, sql.placeholder('id')))
      .prepare('auth_workspace_by_id');
  }

  async findActiveKey(hash: string): Promise<KeyRecord | null> {
    const [row] = await this.keyByHash.execute({ hash });
    return row ?? null;
  }

  async findWorkspace(id: string): Promise<WorkspaceRow | null> {
    const [row] = await this.workspaceById.execute({ id });
    return row ?? null;
  }

  async anyKeyExists(q: Queryable): Promise<boolean> {
    const rows = await q.select({ id: apiKeys.id }).from(apiKeys).limit(1);
    return rows.length > 0;
  }

  async findDefaultWorkspace(q: Queryable): Promise<WorkspaceRow | null> {
    const [row] = await q.select().from(workspaces).where(eq(workspaces.isDefault, true));
    return row ?? null;
  }

  async insertWorkspace(
    q: Queryable,
    row: {
      id: string;
      name: string;
      anonIdLabel?: string;
      isDefault?: boolean;
      mixpanel: MixpanelSettings | null;
      braze: BrazeSettings | null;
    },
  ): Promise<WorkspaceRow> {
    const [created] = await q.insert(workspaces).values(row).returning();
    return created;
  }

  async updateVendorSettings(
    q: Queryable,
    id: string,
    settings: { mixpanel: MixpanelSettings | null; braze: BrazeSettings | null },
  ): Promise<void> {
    await q.update(workspaces).set(settings).where(eq(workspaces.id, id));
  }

  async insertKey(
    q: Queryable,
    row: { workspaceId: string; id: string; name: string; keyHash: string; scopes: string[] },
  ): Promise<ApiKeyRow> {
    const [created] = await q.insert(apiKeys).values(row).returning();
    return created;
  }

  /** Revokes a key of the workspace (once: a revoked key keeps its first revocation time). */
  async revokeKey(workspaceId: string, id: string, now: Date): Promise<ApiKeyRow | null> {
    const where = and(eq(apiKeys.workspaceId, workspaceId), eq(apiKeys.id, id));
    await this.db
      .update(apiKeys)
      .set({ revokedAt: now })
      .where(and(where, isNull(apiKeys.revokedAt)));
    const [row] = await this.db.select().from(apiKeys).where(where);
    return row ?? null;
  }

  /** Takes a transaction-scoped lock that serialises first-start bootstrap across processes. */
  async lockBootstrap(q: Queryable): Promise<void> {
    await q.execute(sql`select pg_advisory_xact_lock(7364021912)`);
  }
}
