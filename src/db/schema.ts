/** Every table of the gateway, for drizzle's typed queries and for drizzle-kit's migrations. */
export * from '../auth/auth.sql.js';
export * from '../identity/store/profile.sql.js';
export * from '../identity/store/activity.sql.js';
export * from '../identity/store/journal.sql.js';
export * from '../outbox/outbox.sql.js';
export * from '../erasure/erasure.sql.js';
export * from './rate-limits.sql.js';
