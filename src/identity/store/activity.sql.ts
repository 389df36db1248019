/**
 * What users did, kept as summaries per profile: the fields Braze combines when it merges two
 * profiles (event and purchase summaries, daily event counts, push tokens, per-app sessions).
 */
import {
  bigint,
  date,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';

export const eventSummaries = pgTable(
  'event_summaries',
  {
    workspaceId: uuid('workspace_id').notNull(),
    profileId: uuid('profile_id').notNull(),
    name: text('name').notNull(),
    count: integer('count').notNull(),
    firstAt: timestamp('first_at', { withTimezone: true }).notNull(),
    lastAt: timestamp('last_at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.profileId, t.name] })],
);

/** Occurrences per UTC day; only the last 30 days are written and read. */
export const eventDailyCounts = pgTable(
  'event_daily_counts',
  {
    workspaceId: uuid('workspace_id').notNull(),
    profileId: uuid('profile_id').notNull(),
    name: text('name').notNull(),
    day: date('day', { mode: 'string' }).notNull(),
    count: integer('count').notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.profileId, t.name, t.day] })],
);

export const purchaseSummaries = pgTable(
  'purchase_summaries',
  {
    workspaceId: uuid('workspace_id').notNull(),
    profileId: uuid('profile_id').notNull(),
    count: integer('count').notNull(),
    totalCents: bigint('total_cents', { mode: 'number' }).notNull(),
    firstAt: timestamp('first_at', { withTimezone: true }).notNull(),
    lastAt: timestamp('last_at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.profileId] })],
);

/** A push token belongs to the profile that registered it last. */
export const pushTokens = pgTable(
  'push_tokens',
  {
    workspaceId: uuid('workspace_id').notNull(),
    appId: text('app_id').notNull(),
    token: text('token').notNull(),
    profileId: uuid('profile_id').notNull(),
    platform: text('platform'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.appId, t.token] }),
    index('push_tokens_profile_idx').on(t.workspaceId, t.profileId),
  ],
);

/** Sessions per app; `app_id` is '' for sessions sent without one. */
export const appSessions = pgTable(
  'app_sessions',
  {
    workspaceId: uuid('workspace_id').notNull(),
    profileId: uuid('profile_id').notNull(),
    appId: text('app_id').notNull(),
    sessionCount: integer('session_count').notNull(),
    firstSessionAt: timestamp('first_session_at', { withTimezone: true }).notNull(),
    lastSessionAt: timestamp('last_session_at', { withTimezone: true }).notNull(),
    totalSeconds: bigint('total_seconds', { mode: 'number' }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.profileId, t.appId] })],
);
