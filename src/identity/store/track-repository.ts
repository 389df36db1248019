/**
 * Writes of tracked activity, each one statement for a whole request: aggregates are combined in
 * the service first, so every upsert touches a row at most once.
 */
import { and, eq, sql } from 'drizzle-orm';

import type { Tx } from '../../db/client.js';
import {
  appSessions,
  eventDailyCounts,
  eventSummaries,
  purchaseSummaries,
  pushTokens,
} from './activity.sql.js';
import { aliases, profiles } from './profile.sql.js';
import { rowsOf } from '../../db/rows.js';
import { textArray, uuidArray } from './sql-helpers.js';

/** The standard attributes, as the API names them and as the table stores them. */
export const STANDARD_ATTRIBUTES = {
  email: 'email',
  firstName: 'first_name',
  lastName: 'last_name',
  gender: 'gender',
  dateOfBirth: 'date_of_birth',
  phone: 'phone',
  timeZone: 'time_zone',
  homeCity: 'home_city',
  country: 'country',
  language: 'language',
} as const;

export type StandardAttribute = keyof typeof STANDARD_ATTRIBUTES;

export interface AttributePatch {
  readonly profileId: string;
  /** Attributes to set; null clears one. Absent ones are left as they are. */
  readonly set: Partial<Record<StandardAttribute, string | null>>;
  readonly customSet: Record<string, unknown>;
  readonly customUnset: readonly string[];
}

export interface EventAggregate {
  readonly profileId: string;
  readonly name: string;
  count: number;
  firstAt: Date;
  lastAt: Date;
}

export interface DailyAggregate {
  readonly profileId: string;
  readonly name: string;
  readonly day: string;
  count: number;
}

export interface PurchaseAggregate {
  readonly profileId: string;
  count: number;
  totalCents: number;
  firstAt: Date;
  lastAt: Date;
}

export interface SessionAggregate {
  readonly profileId: string;
  readonly appId: string;
  count: number;
  firstAt: Date;
  lastAt: Date;
  seconds: number;
}

export interface PushTokenWrite {
  readonly profileId: string;
  readonly appId: string;
  readonly token: string;
  readonly platform: string | null;
}

export interface AliasOwner {
  readonly aliasLabel: string;
  readonly aliasName: string;
  readonly profileId: string;
}

export class TrackRepository {
  /**
   * Transaction-scoped advisory locks on identifiers, taken in one fixed order (by hash) so two
   * requests naming the same identifiers can never wait on each other in a cycle.
   */
  async lockIdentifiers(
    tx: Tx,
    workspaceId: string,
    keys: readonly string[],
    mode: 'shared' | 'exclusive',
  ): Promise<void> {
    if (keys.length === 0) return;
    const fn = mode === 'shared' ? sql`pg_advisory_xact_lock_shared` : sql`pg_advisory_xact_lock`;
    const scoped = [...new Set(keys)].map((k) => `${workspaceId}\u0001${k}`);
    await tx.execute(
      sql`select count(${fn}(h)) from (select distinct hashtextextended(k, 0) as h from unnest(${textArray(scoped)}) as k order by 1) as s`,
    );
  }

  async profilesByExternalIds(
    tx: Tx,
    workspaceId: string,
    externalIds: readonly string[],
  ): Promise<{ id: string; externalId: string }[]> {
    if (externalIds.length === 0) return [];
    const rows = await tx
      .select({ id: profiles.id, externalId: profiles.externalId })
      .from(profiles)
      .where(
        and(
          eq(profiles.workspaceId, workspaceId),
          sql`${profiles.externalId} = any(${textArray(externalIds)})`,
        ),
      );
    return rows.map((r) => ({ id: r.id, externalId: r.externalId! }));
  }

  async aliasOwners(
    tx: Tx,
    workspaceId: string,
    pairs: readonly { aliasLabel: string; aliasName: string }[],
  ): Promise<AliasOwner[]> {
    if (pairs.length === 0) return [];
    return tx
      .select({
        aliasLabel: aliases.aliasLabel,
        aliasName: aliases.aliasName,
        profileId: aliases.profileId,
      })
      .from(aliases)
      .where(
        and(
          eq(aliases.workspaceId, workspaceId),
          sql`(${aliases.aliasLabel}, ${aliases.aliasName}) in (select * from unnest(${textArray(pairs.map((p) => p.aliasLabel))}, ${textArray(pairs.map((p) => p.aliasName))}))`,
        ),
      );
  }

  /**
   * Row-locks profiles in id order for the rest of the transaction (writes to one profile take
   * turns, and a merge cannot absorb it meanwhile) and returns the ids that turned out to be
   * tombstones, merged away since they were resolved.
   */
  async lockProfiles(tx: Tx, workspaceId: string, ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await tx
      .select({ id: profiles.id, mergedInto: profiles.mergedInto })
      .from(profiles)
      .where(
        and(eq(profiles.workspaceId, workspaceId), sql`${profiles.id} = any(${uuidArray(ids)})`),
      )
      .orderBy(profiles.id)
      .for('no key update');
    const live = new Set(rows.filter((r) => r.mergedInto === null).map((r) => r.id));
    return ids.filter((id) => !live.has(id));
  }

  async insertProfiles(
    tx: Tx,
    rows: readonly {
      workspaceId: string;
      id: string;
      externalId: string | null;
      createdAt: Date;
    }[],
  ): Promise<void> {
    if (rows.length === 0) return;
    await tx.insert(profiles).values(rows.map((r) => ({ ...r, updatedAt: r.createdAt })));
  }

  async insertAliases(
    tx: Tx,
    rows: readonly {
      workspaceId: string;
      aliasLabel: string;
      aliasName: string;
      profileId: string;
    }[],
  ): Promise<void> {
    if (rows.length === 0) return;
    await tx.insert(aliases).values([...rows]);
  }

  async countIdentifiers(
    tx: Tx,
    workspaceId: string,
    ids: readonly string[],
  ): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    if (ids.length === 0) return counts;
    const rows = rowsOf<{ id: string; n: number }>(
      await tx.execute(sql`
        select p.id::text as id,
               ((p.external_id is not null)::int + (select count(*) from aliases a
                 where a.workspace_id = p.workspace_id and a.profile_id = p.id))::int as n
        from profiles p
        where p.workspace_id = ${workspaceId} and p.id = any(${uuidArray(ids)})`),
    );
    for (const r of rows) counts.set(r.id, Number(r.n));
    return counts;
  }

  async applyAttributes(
    tx: Tx,
    workspaceId: string,
    patches: readonly AttributePatch[],
  ): Promise<void> {
    if (patches.length === 0) return;
    const payload = JSON.stringify(
      patches.map((p) => ({ id: p.profileId, set: p.set, cs: p.customSet, cu: p.customUnset })),
    );
    const assignments = Object.entries(STANDARD_ATTRIBUTES).map(
      ([key, column]) =>
        sql`${sql.identifier(column)} = case when v.set ? ${key} then v.set->>${key} else p.${sql.identifier(column)} end`,
    );
    await tx.execute(sql`
      update profiles p set
        ${sql.join(assignments, sql`, `)},
        custom_attributes = (p.custom_attributes || v.cs)
          - array(select jsonb_array_elements_text(v.cu))
      from (
        select (e->>'id')::uuid as id, e->'set' as set, e->'cs' as cs, e->'cu' as cu
        from jsonb_array_elements(${payload}::jsonb) as e
      ) as v
      where p.workspace_id = ${workspaceId} and p.id = v.id`);
  }

  async addEvents(tx: Tx, workspaceId: string, events: readonly EventAggregate[]): Promise<void> {
    if (events.length === 0) return;
    await tx
      .insert(eventSummaries)
      .values(events.map((e) => ({ workspaceId, ...e })))
      .onConflictDoUpdate({
        target: [eventSummaries.workspaceId, eventSummaries.profileId, eventSummaries.name],
        set: {
          count: sql`${eventSummaries.count} + excluded.count`,
          firstAt: sql`least(${eventSummaries.firstAt}, excluded.first_at)`,
          lastAt: sql`greatest(${eventSummaries.lastAt}, excluded.last_at)`,
        },
      });
  }

  async addDailyCounts(
    tx: Tx,
    workspaceId: string,
    days: readonly DailyAggregate[],
  ): Promise<void> {
    if (days.length === 0) return;
    await tx
      .insert(eventDailyCounts)
      .values(days.map((d) => ({ workspaceId, ...d })))
      .onConflictDoUpdate({
        target: [
          eventDailyCounts.workspaceId,
          eventDailyCounts.profileId,
          eventDailyCounts.name,
          eventDailyCounts.day,
        ],
        set: { count: sql`${eventDailyCounts.count} + excluded.count` },
      });
  }

  async addPurchases(
    tx: Tx,
    workspaceId: string,
    purchases: readonly PurchaseAggregate[],
  ): Promise<void> {
    if (purchases.length === 0) return;
    await tx
      .insert(purchaseSummaries)
      .values(purchases.map((p) => ({ workspaceId, ...p })))
      .onConflictDoUpdate({
        target: [purchaseSummaries.workspaceId, purchaseSummaries.profileId],
        set: {
          count: sql`${purchaseSummaries.count} + excluded.count`,
          totalCents: sql`${purchaseSummaries.totalCents} + excluded.total_cents`,
          firstAt: sql`least(${purchaseSummaries.firstAt}, excluded.first_at)`,
          lastAt: sql`greatest(${purchaseSummaries.lastAt}, excluded.last_at)`,
        },
      });
  }

  /** Adds sessions to the per-app summaries and to the profiles' own totals. */
  async addSessions(
    tx: Tx,
    workspaceId: string,
    sessions: readonly SessionAggregate[],
  ): Promise<void> {
    if (sessions.length === 0) return;
    await tx
      .insert(appSessions)
      .values(
        sessions.map((s) => ({
          workspaceId,
          profileId: s.profileId,
          appId: s.appId,
          sessionCount: s.count,
          firstSessionAt: s.firstAt,
          lastSessionAt: s.lastAt,
          totalSeconds: s.seconds,
        })),
      )
      .onConflictDoUpdate({
        target: [appSessions.workspaceId, appSessions.profileId, appSessions.appId],
        set: {
          sessionCount: sql`${appSessions.sessionCount} + excluded.session_count`,
          firstSessionAt: sql`least(${appSessions.firstSessionAt}, excluded.first_session_at)`,
          lastSessionAt: sql`greatest(${appSessions.lastSessionAt}, excluded.last_session_at)`,
          totalSeconds: sql`${appSessions.totalSeconds} + excluded.total_seconds`,
        },
      });
    const payload = JSON.stringify(
      sessions.map((s) => ({ id: s.profileId, n: s.count, f: s.firstAt, l: s.lastAt })),
    );
    await tx.execute(sql`
      update profiles p set
        session_count = p.session_count + v.n,
        first_session_at = least(p.first_session_at, v.f),
        last_session_at = greatest(p.last_session_at, v.l)
      from (
        select (e->>'id')::uuid as id, sum((e->>'n')::int)::int as n,
               min((e->>'f')::timestamptz) as f, max((e->>'l')::timestamptz) as l
        from jsonb_array_elements(${payload}::jsonb) as e group by 1
      ) as v
      where p.workspace_id = ${workspaceId} and p.id = v.id`);
  }

  async upsertPushTokens(
    tx: Tx,
    workspaceId: string,
    tokens: readonly PushTokenWrite[],
    now: Date,
  ): Promise<void> {
    if (tokens.length === 0) return;
    await tx
      .insert(pushTokens)
      .values(tokens.map((t) => ({ workspaceId, ...t, createdAt: now, updatedAt: now })))
      .onConflictDoUpdate({
        target: [pushTokens.workspaceId, pushTokens.appId, pushTokens.token],
        set: {
          profileId: sql`excluded.profile_id`,
          platform: sql`coalesce(excluded.platform, ${pushTokens.platform})`,
          updatedAt: sql`excluded.updated_at`,
        },
      });
  }

  async touchProfiles(
    tx: Tx,
    workspaceId: string,
    ids: readonly string[],
    now: Date,
  ): Promise<void> {
    if (ids.length === 0) return;
    await tx
      .update(profiles)
      .set({ updatedAt: now })
      .where(
        and(eq(profiles.workspaceId, workspaceId), sql`${profiles.id} = any(${uuidArray(ids)})`),
      );
  }
}
