/**
 * Profiles and the identifiers that point at them. A profile absorbed by a merge stays as a
 * tombstone (`merged_into` set) so that its id still resolves to the live survivor.
 */
import { sql } from 'drizzle-orm';
import {
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

import { workspaces } from '../../auth/auth.sql.js';

export const profiles = pgTable(
  'profiles',
  {
    workspaceId: uuid('workspace_id')
      .notNull()
      .references(() => workspaces.id),
    id: uuid('id').notNull(),
    externalId: text('external_id'),
    /** Stored trimmed and lower-cased, so lookups by email are exact. */
    email: text('email'),
    firstName: text('first_name'),
    lastName: text('last_name'),
    gender: text('gender'),
    dateOfBirth: text('date_of_birth'),
    phone: text('phone'),
    timeZone: text('time_zone'),
    homeCity: text('home_city'),
    country: text('country'),
    language: text('language'),
    customAttributes: jsonb('custom_attributes')
      .$type<Record<string, unknown>>()
      .notNull()
      .default(sql`'{}'::jsonb`),
    sessionCount: integer('session_count').notNull().default(0),
    firstSessionAt: timestamp('first_session_at', { withTimezone: true }),
    lastSessionAt: timestamp('last_session_at', { withTimezone: true }),
    /** Tombstone pointer: the live profile this one was merged into. */
    mergedInto: uuid('merged_into'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    uniqueIndex('profiles_external_id_uq')
      .on(t.workspaceId, t.externalId)
      .where(sql`${t.externalId} is not null`),
    index('profiles_email_idx')
      .on(t.workspaceId, t.email)
      .where(sql`${t.email} is not null and ${t.mergedInto} is null`),
    index('profiles_merged_into_idx')
      .on(t.workspaceId, t.mergedInto)
      .where(sql`${t.mergedInto} is not null`),
  ],
);

/** (label, name) -> profile. Anonymous ids are aliases under the workspace's anon-id label. */
export const aliases = pgTable(
  'aliases',
  {
    workspaceId: uuid('workspace_id')
      .notNull()
      .references(() => workspaces.id),
    aliasLabel: text('alias_label').notNull(),
    aliasName: text('alias_name').notNull(),
    profileId: uuid('profile_id').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.aliasLabel, t.aliasName] }),
    index('aliases_profile_idx').on(t.workspaceId, t.profileId),
  ],
);
