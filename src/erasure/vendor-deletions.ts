/**
 * The vendors' half of an erasure: the deletions a forgotten person needs at Braze and Mixpanel,
 * written as outbox rows in the erasure's transaction, and the receipt's status as they finish.
 *
 * Each row holds one request's worth of identifiers at most (Braze takes 50 per /users/delete,
 * Mixpanel 2,000 per /engage or GDPR request), so that one answer decides a row. The rows of an
 * erasure form their own queue per vendor (their profile id is the erasure's id, not the person's):
 * Mixpanel's profile deletions go before its data deletion. A row loses its identifiers once it is
 * delivered or skipped; a dead one keeps them until it is retried and delivered, or until dead
 * deliveries age out (OUTBOX_DEAD_RETENTION_DAYS).
 */
import { sql } from 'drizzle-orm';

import type { BrazeSettings, MixpanelSettings } from '../config/config.js';
import type { Queryable } from '../db/client.js';
import { pgArray } from '../lib/pg-array.js';
import type { NewDelivery } from '../outbox/enqueue.js';
import { ERASED_TYPE, type ErasureMessage, type VendorName } from '../outbox/message.js';
import type { ErasureGap } from './erasure.sql.js';

const BRAZE_IDS_PER_ROW = 50;
const MIXPANEL_IDS_PER_ROW = 2_000;

/** The identifiers of a forgotten person that vendors know them by. */
export interface VendorIdentity {
  readonly externalIds: readonly string[];
  readonly aliases: readonly { readonly aliasLabel: string; readonly aliasName: string }[];
  /** The workspace's anon-id label: those aliases are Mixpanel distinct ids too. */
  readonly anonIdLabel: string;
}

export interface VendorDeletions {
  readonly rows: NewDelivery[];
  readonly gaps: ErasureGap[];
}

/** The deletions to ask of each configured vendor, and what they cannot reach. */
export function vendorDeletions(
  erasure: { readonly id: string; readonly workspaceId: string; readonly now: Date },
  who: VendorIdentity,
  vendors: { readonly mixpanel: MixpanelSettings | null; readonly braze: BrazeSettings | null },
): VendorDeletions {
  const rows: NewDelivery[] = [];
  const gaps: ErasureGap[] = [];
  const add = (
    vendor: VendorName,
    action: ErasureMessage['action'],
    part: Pick<ErasureMessage, 'externalIds' | 'aliases' | 'distinctIds'>,
    n: number,
  ) => {
    const message: ErasureMessage = {
      type: ERASED_TYPE,
      changeId: erasure.id,
      workspaceId: erasure.workspaceId,
      occurredAt: erasure.now.toISOString(),
      action,
      ...part,
    };
    rows.push({
      workspaceId: erasure.workspaceId,
      vendor,
      type: ERASED_TYPE,
      changeId: erasure.id,
      profileId: erasure.id,
      payload: message,
      dedupeKey: `${erasure.id}:${action}:${n}`,
      nextAttemptAt: erasure.now,
      createdAt: erasure.now,
      updatedAt: erasure.now,
    });
  };

  if (vendors.braze) {
    // By external id when the person has one (it takes their aliases with it), else by alias.
    if (who.externalIds.length > 0) {
      chunk(who.externalIds, BRAZE_IDS_PER_ROW).forEach((externalIds, n) =>
        add('BRAZE', 'braze.users', { externalIds, aliases: [], distinctIds: [] }, n),
      );
    } else {
      chunk(who.aliases, BRAZE_IDS_PER_ROW).forEach((aliases, n) =>
        add('BRAZE', 'braze.users', { externalIds: [], aliases, distinctIds: [] }, n),
      );
    }
  }
  const distinctIds = [
    ...who.externalIds,
    ...who.aliases.filter((a) => a.aliasLabel === who.anonIdLabel).map((a) => a.aliasName),
  ];
  if (vendors.mixpanel && distinctIds.length > 0) {
    const parts = chunk(distinctIds, MIXPANEL_IDS_PER_ROW);
    parts.forEach((ids, n) =>
      add('MIXPANEL', 'mixpanel.profiles', { externalIds: [], aliases: [], distinctIds: ids }, n),
    );
    if (vendors.mixpanel.gdprToken) {
      parts.forEach((ids, n) =>
        add('MIXPANEL', 'mixpanel.data', { externalIds: [], aliases: [], distinctIds: ids }, n),
      );
    } else {
      gaps.push('MIXPANEL_EVENTS');
    }
  }
  return { rows, gaps };
}

/** A finished erasure row, as the dispatcher's finish returns it. */
export interface FinishedDeletion {
  readonly id: number;
  readonly changeId: string;
  /** The vendor's name for the work it took on (Mixpanel's deletion task id), if it gave one. */
  readonly reference: string | null;
}

/**
 * After the dispatcher wrote the outcomes of erasure rows (in its transaction): rows delivered or
 * skipped lose their identifiers, references are kept, and each erasure's status follows its rows:
 * FAILED when one is dead, PENDING while one waits, else COMPLETED. The erasures are locked first,
 * so that the finishes of Braze and Mixpanel rows of one erasure read each other's outcomes.
 */
export async function settleDeletions(
  tx: Queryable,
  workspaceId: string,
  rows: readonly FinishedDeletion[],
  now: Date,
): Promise<void> {
  if (rows.length === 0) return;
  await tx.execute(sql`
    update outbox_messages m set
      payload = case when m.status in ('DELIVERED', 'SKIPPED') then ${SCRUBBED}::jsonb else m.payload end,
      vendor_reference = coalesce(u.reference, m.vendor_reference)
    from unnest(${pgArray(rows.map((r) => r.id))}::bigint[],
                ${pgArray(rows.map((r) => r.reference))}::text[]) as u(id, reference)
    where m.workspace_id = ${workspaceId} and m.id = u.id`);
  await refreshErasures(tx, workspaceId, [...new Set(rows.map((r) => r.changeId))], now);
}

/** Sets each erasure's status from its deliveries (see settleDeletions); after requeues too. */
export async function refreshErasures(
  tx: Queryable,
  workspaceId: string,
  erasureIds: readonly string[],
  now: Date,
): Promise<void> {
  if (erasureIds.length === 0) return;
  const ids = sql`${pgArray([...erasureIds].sort())}::uuid[]`;
  await tx.execute(sql`
    select e.id from erasures e where e.workspace_id = ${workspaceId} and e.id = any(${ids})
    order by e.id for update`);
  await tx.execute(sql`
    update erasures e set status = s.status,
      completed_at = case when s.status = 'COMPLETED'
        then coalesce(e.completed_at, ${now.toISOString()}::timestamptz) else null end
    from (
      select o.change_id,
        case when bool_or(o.status = 'DEAD') then 'FAILED'
             when bool_or(o.status in ('PENDING', 'RETRYING')) then 'PENDING'
             else 'COMPLETED' end as status
      from outbox_messages o
      where o.workspace_id = ${workspaceId} and o.change_id = any(${ids}) and o.type = ${ERASED_TYPE}
      group by o.change_id
    ) as s
    where e.workspace_id = ${workspaceId} and e.id = s.change_id`);
}

/** What a delivered or skipped deletion keeps of its payload. */
const SCRUBBED = JSON.stringify({ type: ERASED_TYPE, forgotten: true });

function chunk<T>(values: readonly T[], size: number): T[][] {
  const parts: T[][] = [];
  for (let i = 0; i < values.length; i += size) parts.push(values.slice(i, i + size));
  return parts;
}
