/**
 * Erasure receipts and the suppression list. A receipt proves that a person was forgotten without
 * keeping who: it holds keyed fingerprints (HMAC-SHA-256 under the workspace's erasure secret) of
 * the identifiers they held, never the identifiers. The suppression list holds the same
 * fingerprints, so an identifier can be recognised as forgotten when it comes back.
 */
import { sql } from 'drizzle-orm';
import { index, integer, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export const ERASURE_STATUSES = ['PENDING', 'COMPLETED', 'FAILED'] as const;
export type ErasureStatusValue = (typeof ERASURE_STATUSES)[number];

/**
 * What an erasure can leave behind, named on its receipt. MIXPANEL_EVENTS: Mixpanel is configured
 * without a GDPR token, so only the person's profiles were deleted there, not their events.
 */
export const ERASURE_GAPS = ['MIXPANEL_EVENTS'] as const;
export type ErasureGap = (typeof ERASURE_GAPS)[number];

export const erasures = pgTable(
  'erasures',
  {
    workspaceId: uuid('workspace_id').notNull(),
    id: uuid('id').notNull(),
    status: text('status', { enum: ERASURE_STATUSES }).notNull(),
    requestedAt: timestamp('requested_at', { withTimezone: true }).notNull(),
    completedAt: timestamp('completed_at', { withTimezone: true }),
    /** The caller's reason, as given (at most 200 characters). */
    reason: text('reason'),
    /** How many identifiers the person held when forgotten (0: nobody held the one named). */
    identifierCount: integer('identifier_count').notNull(),
    fingerprints: text('fingerprints')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    /** What the erasure could not reach (see ERASURE_GAPS). */
    notErased: text('not_erased')
      .array()
      .$type<ErasureGap[]>()
      .notNull()
      .default(sql`'{}'::text[]`),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    index('erasures_requested_idx').on(t.workspaceId, t.requestedAt),
  ],
);

export const suppressions = pgTable(
  'suppressions',
  {
    workspaceId: uuid('workspace_id').notNull(),
    fingerprint: text('fingerprint').notNull(),
    /** The erasure that put it there. */
    erasureId: uuid('erasure_id').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.fingerprint] })],
);
