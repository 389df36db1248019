/** Workspaces (the unit of isolation) and the hashed API keys that act inside one. */
import { sql } from 'drizzle-orm';
import {
  boolean,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

import type { BrazeSettings, MixpanelSettings } from '../config/config.js';

export const workspaces = pgTable(
  'workspaces',
  {
    id: uuid('id').primaryKey(),
    name: text('name').notNull(),
    anonIdLabel: text('anon_id_label').notNull().default('anon_id'),
    /** Vendor settings; null when the vendor is not configured. Never readable through the API. */
    mixpanel: jsonb('mixpanel').$type<MixpanelSettings>(),
    braze: jsonb('braze').$type<BrazeSettings>(),
    /** The workspace that the environment's vendor settings and the bootstrap key belong to. */
    isDefault: boolean('is_default').notNull().default(false),
    /** Key of the fingerprints of forgotten identifiers (hex); made at the first erasure. */
    erasureSecret: text('erasure_secret'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('workspaces_default_uq')
      .on(t.isDefault)
      .where(sql`${t.isDefault}`),
  ],
);

export const apiKeys = pgTable(
  'api_keys',
  {
    workspaceId: uuid('workspace_id')
      .notNull()
      .references(() => workspaces.id),
    id: uuid('id').notNull(),
    name: text('name').notNull(),
    /** SHA-256 of the key, hex; the key itself is shown once and never stored. */
    keyHash: text('key_hash').notNull(),
    scopes: text('scopes')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    uniqueIndex('api_keys_hash_uq').on(t.keyHash),
  ],
);
