/**
 * Counters of rate-limiter-flexible's drizzle store: one row per limited key (the key starts
 * with the workspace id), shared by every gateway process on the database.
 */
import { integer, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

export const rateLimits = pgTable('rate_limits', {
  key: text('key').primaryKey(),
  points: integer('points').notNull(),
  expire: timestamp('expire', { withTimezone: true }),
});
