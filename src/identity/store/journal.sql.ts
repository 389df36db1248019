/** The merge journal and idempotency records: what was merged, from what, and what was answered. */
import { sql } from 'drizzle-orm';
import { index, jsonb, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export const merges = pgTable(
  'merges',
  {
    workspaceId: uuid('workspace_id').notNull(),
    id: uuid('id').notNull(),
    behavior: text('behavior', { enum: ['MERGE', 'NONE'] }).notNull(),
    survivorId: uuid('survivor_id').notNull(),
    absorbedId: uuid('absorbed_id').notNull(),
    /** The external id and the identifier (alias, email or anon id) the merge was asked for by. */
    externalId: text('external_id').notNull(),
    identifier: jsonb('identifier').$type<Record<string, unknown>>().notNull(),
    changedFields: text('changed_fields')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    /**
     * What an undo needs: the survivor's prior values of the fields the merge changed (see
     * journalledSurvivor) and the absorbed profile's whole prior state. Merges recorded before
     * this rule hold the survivor's whole state, which an undo reads the same way.
     */
    survivorBefore: jsonb('survivor_before').$type<Record<string, unknown>>().notNull(),
    absorbedBefore: jsonb('absorbed_before').$type<Record<string, unknown>>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    undoneAt: timestamp('undone_at', { withTimezone: true }),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    index('merges_survivor_idx').on(t.workspaceId, t.survivorId, t.createdAt),
    index('merges_absorbed_idx').on(t.workspaceId, t.absorbedId),
  ],
);

export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    workspaceId: uuid('workspace_id').notNull(),
    key: text('key').notNull(),
    operation: text('operation').notNull(),
    requestHash: text('request_hash').notNull(),
    result: jsonb('result').$type<unknown>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.key] }),
    // Retention: expired records by age.
    index('idempotency_keys_created_idx').on(t.workspaceId, t.createdAt),
  ],
);
