/**
 * The one place where identity changes become vendor deliveries, called inside the transaction
 * that commits them: a change and its deliveries commit or roll back together. A vendor that is
 * not configured for the workspace gets no rows.
 */
import { eq, sql } from 'drizzle-orm';

import { workspaces } from '../auth/auth.sql.js';
import type { Tx } from '../db/client.js';
import { oneWorkspace, rowsOf } from '../db/rows.js';
import { recordset } from '../db/recordset.js';
import type { IdentityChange } from '../identity/engine/model.js';
import {
  VENDOR_NAMES,
  type IdentityMessage,
  type OutboxMessage,
  type VendorName,
} from './message.js';
import { outboxMessages } from './outbox.sql.js';

export interface EnqueueContext {
  readonly workspaceId: string;
  readonly anonIdLabel: string;
  readonly now: Date;
  /** The vendors configured for the workspace, when the caller read them already. */
  readonly vendors?: ReadonlySet<VendorName>;
}

/** The vendors configured for a workspace, read in the caller's transaction. */
export async function configuredVendors(tx: Tx, workspaceId: string): Promise<Set<VendorName>> {
  const [workspace] = await tx
    .select({ mixpanel: workspaces.mixpanel, braze: workspaces.braze })
    .from(workspaces)
    .where(eq(workspaces.id, workspaceId));
  const configured = new Set<VendorName>();
  if (workspace?.mixpanel) configured.add('MIXPANEL');
  if (workspace?.braze) configured.add('BRAZE');
  return configured;
}

/** A change with the id its deliveries are filed under. */
export type IdentifiedChange = IdentityChange & { readonly changeId: string };

export function toMessage(change: IdentifiedChange, ctx: EnqueueContext): IdentityMessage {
  return {
    type: change.kind === 'merged' ? 'identity.profiles_merged.v1' : 'identity.identified.v1',
    changeId: change.changeId,
    workspaceId: ctx.workspaceId,
    occurredAt: ctx.now.toISOString(),
    externalId: change.externalId,
    profileId: change.profileId,
    absorbedProfileId: change.absorbedProfileId,
    mergeBehavior: change.behavior,
    identifier: change.identifier,
    anonIdLabel: ctx.anonIdLabel,
    anonIds: change.anonIds,
    aliases: change.aliases,
    survivorAliasLabels: change.survivorAliasLabels,
  };
}

/** Which vendors a message goes to: Mixpanel only hears of anon ids ($identify is about them). */
export function vendorsFor(
  message: IdentityMessage,
  configured: ReadonlySet<VendorName>,
): VendorName[] {
  const vendors: VendorName[] = [];
  if (configured.has('BRAZE')) vendors.push('BRAZE');
  if (configured.has('MIXPANEL') && message.anonIds.length > 0) vendors.push('MIXPANEL');
  return vendors;
}

export async function enqueueIdentityChanges(
  tx: Tx,
  ctx: EnqueueContext,
  changes: readonly IdentifiedChange[],
): Promise<number> {
  if (changes.length === 0) return 0;
  const configured = ctx.vendors ?? (await configuredVendors(tx, ctx.workspaceId));
  const rows = changes.flatMap((change) => {
    const message = toMessage(change, ctx);
    return vendorsFor(message, configured).map((vendor) => ({
      workspaceId: ctx.workspaceId,
      vendor,
      type: message.type,
      changeId: change.changeId,
      profileId: change.profileId,
      payload: message,
      dedupeKey: `${change.changeId}:${vendor.toLowerCase()}`,
      nextAttemptAt: ctx.now,
      createdAt: ctx.now,
      updatedAt: ctx.now,
    }));
  });
  await insertQueued(tx, rows);
  return rows.length;
}

export type NewDelivery = typeof outboxMessages.$inferInsert & { readonly dedupeKey: string };

/**
 * Inserts waiting rows at the tail of their (workspace, vendor, profile) queues: the first row
 * of a queue with no head becomes its head, every other row is parked behind it.
 *
 * The head is found by the unique index on heads rather than by reading: a row that finds a
 * head already there locks it (ON CONFLICT DO UPDATE ... WHERE false locks without writing), so
 * a dispatcher finishing that head waits for this transaction and then sees the parked rows it
 * must promote; two enqueuers of one queue wait on the same index entry. No row can be parked
 * behind a head that finished unseen.
 */
export async function insertQueued(tx: Tx, rows: readonly NewDelivery[]): Promise<void> {
  if (rows.length === 0) return;
  const firstOfQueue = new Map<string, NewDelivery>();
  for (const row of rows) {
    const queue = `${row.workspaceId}\u0001${row.vendor}\u0001${row.profileId}`;
    if (!firstOfQueue.has(queue)) firstOfQueue.set(queue, row);
  }
  // Heads are locked in (vendor, profile) order, the order in which a finishing dispatcher locks
  // them too, so that the two never wait on each other in a cycle.
  const candidates = [...firstOfQueue.values()].sort(
    (a, b) => compare(a.vendor, b.vendor) || compare(a.profileId, b.profileId),
  );
  const heads = rowsOf<{ dedupe_key: string }>(
    await tx.execute(sql`${insertRows(candidates, false)}
      on conflict (workspace_id, vendor, profile_id)
        where status in ('PENDING', 'RETRYING') and not parked
        do update set parked = excluded.parked where false
      returning dedupe_key`),
  );
  const inserted = new Set(heads.map((h) => h.dedupe_key));
  const parked = rows.filter((row) => !inserted.has(row.dedupeKey));
  if (parked.length > 0) await tx.execute(insertRows(parked, true));
}

/** One statement for any number of rows of one workspace. */
function insertRows(rows: readonly NewDelivery[], parked: boolean) {
  const workspaceId = oneWorkspace(rows);
  const at = (rows[0].createdAt ?? new Date()).toISOString();
  const records = rows.map((r) => ({
    vendor: r.vendor,
    type: r.type,
    change_id: r.changeId,
    profile_id: r.profileId,
    payload: r.payload,
    dedupe_key: r.dedupeKey,
  }));
  return sql`insert into outbox_messages (workspace_id, vendor, type, change_id, profile_id,
      payload, dedupe_key, parked, next_attempt_at, created_at, updated_at)
    select ${workspaceId}::uuid, v.vendor, v.type, v.change_id, v.profile_id, v.payload,
      v.dedupe_key, ${parked}, ${at}::timestamptz, ${at}::timestamptz, ${at}::timestamptz
    from ${recordset(records, DELIVERY_COLUMNS)}`;
}

const DELIVERY_COLUMNS = [
  ['vendor', 'text'],
  ['type', 'text'],
  ['change_id', 'uuid'],
  ['profile_id', 'uuid'],
  ['payload', 'jsonb'],
  ['dedupe_key', 'text'],
] as const;

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Records, for each configured vendor, a change the vendor cannot express, as a SKIPPED delivery
 * whose lastError gives the reason: the record shows what each vendor was (not) told.
 */
export async function recordUnsupportedChange(
  tx: Tx,
  ctx: { readonly workspaceId: string; readonly now: Date },
  change: {
    readonly id: string;
    readonly changeId: string;
    readonly profileId: string;
    readonly type: string;
    readonly reasons: Readonly<Record<VendorName, string>>;
  },
): Promise<void> {
  const configured = await configuredVendors(tx, ctx.workspaceId);
  const vendors = VENDOR_NAMES.filter((v) => configured.has(v));
  if (vendors.length === 0) return;
  await tx.insert(outboxMessages).values(
    vendors.map((vendor) => ({
      workspaceId: ctx.workspaceId,
      vendor,
      type: change.type,
      changeId: change.changeId,
      profileId: change.profileId,
      payload: { type: change.type, changeId: change.changeId } as unknown as OutboxMessage,
      dedupeKey: `${change.id}:${vendor.toLowerCase()}`,
      status: 'SKIPPED' as const,
      lastError: change.reasons[vendor],
      nextAttemptAt: ctx.now,
      createdAt: ctx.now,
      updatedAt: ctx.now,
    })),
  );
}
