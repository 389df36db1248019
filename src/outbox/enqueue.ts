/**
 * The one place where identity changes become vendor deliveries, called inside the transaction
 * that commits them: a change and its deliveries commit or roll back together. A vendor that is
 * not configured for the workspace gets no rows.
 */
import { eq } from 'drizzle-orm';

import { workspaces } from '../auth/auth.sql.js';
import type { Tx } from '../db/client.js';
import type { IdentityChange } from '../identity/engine/model.js';
import type { IdentityMessage, VendorName } from './message.js';
import { outboxMessages } from './outbox.sql.js';

export interface EnqueueContext {
  readonly workspaceId: string;
  readonly anonIdLabel: string;
  readonly now: Date;
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
  const [workspace] = await tx
    .select({ mixpanel: workspaces.mixpanel, braze: workspaces.braze })
    .from(workspaces)
    .where(eq(workspaces.id, ctx.workspaceId));
  const configured = new Set<VendorName>();
  if (workspace?.mixpanel) configured.add('MIXPANEL');
  if (workspace?.braze) configured.add('BRAZE');
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
  if (rows.length > 0) await tx.insert(outboxMessages).values(rows);
  return rows.length;
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
  const [workspace] = await tx
    .select({ mixpanel: workspaces.mixpanel, braze: workspaces.braze })
    .from(workspaces)
    .where(eq(workspaces.id, ctx.workspaceId));
  const vendors: VendorName[] = [];
  if (workspace?.braze) vendors.push('BRAZE');
  if (workspace?.mixpanel) vendors.push('MIXPANEL');
  if (vendors.length === 0) return;
  await tx.insert(outboxMessages).values(
    vendors.map((vendor) => ({
      workspaceId: ctx.workspaceId,
      vendor,
      type: change.type,
      changeId: change.changeId,
      profileId: change.profileId,
      payload: { type: change.type, changeId: change.changeId } as unknown as IdentityMessage,
      dedupeKey: `${change.id}:${vendor.toLowerCase()}`,
      status: 'SKIPPED' as const,
      lastError: change.reasons[vendor],
      nextAttemptAt: ctx.now,
      createdAt: ctx.now,
      updatedAt: ctx.now,
    })),
  );
}
