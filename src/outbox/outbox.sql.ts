/**
 * Deliveries: one row per identity change and configured vendor, written in the transaction of
 * the change, claimed by dispatchers with FOR UPDATE SKIP LOCKED, and kept after delivery (for
 * the retention period) as the record of what each vendor was told.
 *
 * Each (workspace, vendor, profile) is a queue. Only its head, the one waiting row that is not
 * `parked`, can be claimed; the rows behind it are parked and the head's finish promotes the
 * oldest of them. A claim therefore reads heads by index and never scans a backlog to find out
 * which rows are free to go (see outbox-repository.ts).
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
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

import type { OutboxMessage } from './message.js';

export const DELIVERY_STATUSES = ['PENDING', 'RETRYING', 'DELIVERED', 'DEAD', 'SKIPPED'] as const;
export type DeliveryStatusValue = (typeof DELIVERY_STATUSES)[number];

export const outboxMessages = pgTable(
  'outbox_messages',
  {
    workspaceId: uuid('workspace_id').notNull(),
    id: bigint('id', { mode: 'number' }).generatedAlwaysAsIdentity(),
    vendor: text('vendor', { enum: ['MIXPANEL', 'BRAZE'] }).notNull(),
    type: text('type').notNull(),
    /** The change this delivery carries (the merge id for a merge). */
    changeId: uuid('change_id').notNull(),
    /** Order is kept per (workspace, vendor, profile): the surviving profile. */
    profileId: uuid('profile_id').notNull(),
    payload: jsonb('payload').$type<OutboxMessage>().notNull(),
    /** Stable across retries and redeliveries (Mixpanel's $insert_id derives from the same data). */
    dedupeKey: text('dedupe_key').notNull(),
    status: text('status', { enum: DELIVERY_STATUSES }).notNull().default('PENDING'),
    /** Waiting behind an earlier row of the same (workspace, vendor, profile): not claimable. */
    parked: boolean('parked').notNull().default(false),
    attempts: integer('attempts').notNull().default(0),
    /** When the row may be claimed; a claim moves it to the end of the lease. */
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull().defaultNow(),
    /** A dispatcher's lease: while it lies in the future, no other dispatcher takes the row. */
    claimedUntil: timestamp('claimed_until', { withTimezone: true }),
    claimedBy: text('claimed_by'),
    lastError: text('last_error'),
    /** What the vendor calls the work it took on, when it says (Mixpanel's deletion task id). */
    vendorReference: text('vendor_reference'),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    // The claim: due heads of one workspace and vendor, oldest first.
    index('outbox_due_idx')
      .on(t.workspaceId, t.vendor, t.nextAttemptAt, t.id)
      .where(sql`${t.status} in ('PENDING', 'RETRYING') and not ${t.parked}`),
    // One head per queue; enqueueing behind a head locks it (see enqueue.ts).
    uniqueIndex('outbox_head_idx')
      .on(t.workspaceId, t.vendor, t.profileId)
      .where(sql`${t.status} in ('PENDING', 'RETRYING') and not ${t.parked}`),
    // The rows behind each head, promoted in id order.
    index('outbox_parked_idx')
      .on(t.workspaceId, t.vendor, t.profileId, t.id)
      .where(sql`${t.status} in ('PENDING', 'RETRYING') and ${t.parked}`),
    // Retention: finished rows by age.
    index('outbox_finished_idx')
      .on(t.workspaceId, t.status, t.updatedAt)
      .where(sql`${t.status} in ('DELIVERED', 'SKIPPED', 'DEAD')`),
    index('outbox_change_idx').on(t.workspaceId, t.changeId),
  ],
);

/** A throttled workspace+vendor waits until `paused_until` (429s and rate-limit headers). */
export const vendorPauses = pgTable(
  'vendor_pauses',
  {
    workspaceId: uuid('workspace_id').notNull(),
    vendor: text('vendor', { enum: ['MIXPANEL', 'BRAZE'] }).notNull(),
    pausedUntil: timestamp('paused_until', { withTimezone: true }).notNull(),
    reason: text('reason'),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.vendor] })],
);
