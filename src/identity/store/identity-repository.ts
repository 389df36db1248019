/**
 * The SQL of identifyUsers: finds the profiles a request names, locks them, loads them whole as
 * engine snapshots, and writes a plan back. Every step is one statement for the whole request,
 * whatever the number of identifiers in it.
 */
import { and, eq, sql } from 'drizzle-orm';

import type { Tx } from '../../db/client.js';
import { rowsOf } from '../../db/rows.js';
import type { MergeRecord, ProfileState, StandardField } from '../engine/model.js';
import { STANDARD_FIELDS } from '../engine/model.js';
import {
  appSessions,
  eventDailyCounts,
  eventSummaries,
  purchaseSummaries,
  pushTokens,
} from './activity.sql.js';
import { idempotencyKeys, merges } from './journal.sql.js';
import { aliases, profiles } from './profile.sql.js';
import { textArray, uuidArray } from './sql-helpers.js';
import { STANDARD_ATTRIBUTES } from './track-repository.js';

export interface IdentifierSets {
  readonly externalIds: readonly string[];
  readonly aliases: readonly { aliasLabel: string; aliasName: string }[];
  readonly emails: readonly string[];
}

export class IdentityRepository {
  /** Ids of the live profiles that hold any of the identifiers. */
  async profileIdsHolding(tx: Tx, ws: string, ids: IdentifierSets): Promise<string[]> {
    const rows = rowsOf<{ id: string }>(
      await tx.execute(sql`
        select id::text from profiles
        where workspace_id = ${ws} and merged_into is null
          and (external_id = any(${textArray(ids.externalIds)}) or email = any(${textArray(ids.emails)}))
        union
        select profile_id::text from aliases
        where workspace_id = ${ws} and (alias_label, alias_name) in (
          select * from unnest(${textArray(ids.aliases.map((a) => a.aliasLabel))}, ${textArray(ids.aliases.map((a) => a.aliasName))}))`),
    );
    return rows.map((r) => r.id);
  }

  /** Locks the profiles in id order; returns the ids that are tombstones by now. */
  async lockForMerge(tx: Tx, ws: string, ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await tx
      .select({ id: profiles.id, mergedInto: profiles.mergedInto })
      .from(profiles)
      .where(and(eq(profiles.workspaceId, ws), sql`${profiles.id} = any(${uuidArray(ids)})`))
      .orderBy(profiles.id)
      .for('update');
    return rows.filter((r) => r.mergedInto !== null).map((r) => r.id);
  }

  /** Whole profiles, with identifiers and summaries, as the engine sees them. */
  async loadStates(tx: Tx, ws: string, ids: readonly string[]): Promise<ProfileState[]> {
    if (ids.length === 0) return [];
    const inIds = <T extends { profileId: unknown }>(table: T & { workspaceId: unknown }) =>
      and(
        eq(table.workspaceId as typeof profiles.workspaceId, ws),
        sql`${table.profileId} = any(${uuidArray(ids)})`,
      );
    const [rows, aliasRows, eventRows, dayRows, purchaseRows, tokenRows, appRows] =
      await Promise.all([
        tx
          .select()
          .from(profiles)
          .where(and(eq(profiles.workspaceId, ws), sql`${profiles.id} = any(${uuidArray(ids)})`)),
        tx
          .select()
          .from(aliases)
          .where(inIds(aliases))
          .orderBy(aliases.aliasLabel, aliases.aliasName),
        tx.select().from(eventSummaries).where(inIds(eventSummaries)).orderBy(eventSummaries.name),
        tx.select().from(eventDailyCounts).where(inIds(eventDailyCounts)),
        tx.select().from(purchaseSummaries).where(inIds(purchaseSummaries)),
        tx
          .select()
          .from(pushTokens)
          .where(inIds(pushTokens))
          .orderBy(pushTokens.appId, pushTokens.token),
        tx.select().from(appSessions).where(inIds(appSessions)).orderBy(appSessions.appId),
      ]);
    const group = <R extends { profileId: string }>(list: R[]) => {
      const by = new Map<string, R[]>();
      for (const r of list) by.set(r.profileId, [...(by.get(r.profileId) ?? []), r]);
      return (id: string) => by.get(id) ?? [];
    };
    const aliasesOf = group(aliasRows);
    const eventsOf = group(eventRows);
    const daysOf = group(dayRows);
    const purchaseOf = group(purchaseRows);
    const tokensOf = group(tokenRows);
    const appsOf = group(appRows);
    return rows.map((p) => {
      const days = daysOf(p.id);
      const purchase = purchaseOf(p.id)[0];
      const attributes = Object.fromEntries(STANDARD_FIELDS.map((f) => [f, p[f]])) as Record<
        StandardField,
        string | null
      >;
      return {
        id: p.id,
        externalId: p.externalId,
        attributes,
        customAttributes: p.customAttributes,
        sessionCount: p.sessionCount,
        firstSessionAt: p.firstSessionAt,
        lastSessionAt: p.lastSessionAt,
        aliases: aliasesOf(p.id).map((a) => ({ aliasLabel: a.aliasLabel, aliasName: a.aliasName })),
        events: eventsOf(p.id).map((e) => ({
          name: e.name,
          count: e.count,
          firstAt: e.firstAt,
          lastAt: e.lastAt,
          daily: Object.fromEntries(
            days.filter((d) => d.name === e.name).map((d) => [d.day, d.count]),
          ),
        })),
        purchases: purchase
          ? {
              count: purchase.count,
              totalCents: purchase.totalCents,
              firstAt: purchase.firstAt,
              lastAt: purchase.lastAt,
            }
          : null,
        pushTokens: tokensOf(p.id).map((t) => ({
          appId: t.appId,
          token: t.token,
          platform: t.platform,
        })),
        apps: appsOf(p.id).map((a) => ({
          appId: a.appId,
          sessionCount: a.sessionCount,
          firstSessionAt: a.firstSessionAt,
          lastSessionAt: a.lastSessionAt,
          totalSeconds: a.totalSeconds,
        })),
        mergedInto: p.mergedInto,
        createdAt: p.createdAt,
        updatedAt: p.updatedAt,
      };
    });
  }

  /**
   * Writes the final state of every changed profile: the profile row, then its identifiers and
   * summaries replaced as a whole (the profiles are locked FOR UPDATE, so nothing else writes
   * them meanwhile).
   */
  async writeStates(tx: Tx, ws: string, states: readonly ProfileState[]): Promise<void> {
    if (states.length === 0) return;
    const ids = states.map((s) => s.id);
    const payload = JSON.stringify(
      states.map((s) => ({
        id: s.id,
        x: s.externalId,
        a: s.attributes,
        c: s.customAttributes,
        n: s.sessionCount,
        f: s.firstSessionAt,
        l: s.lastSessionAt,
        m: s.mergedInto,
        u: s.updatedAt,
      })),
    );
    const columns = Object.entries(STANDARD_ATTRIBUTES).map(
      ([key, column]) => sql`${sql.identifier(column)} = v.a->>${key}`,
    );
    // Release external ids first: the unique index is checked row by row.
    await tx.execute(sql`
      update profiles p set
        external_id = (v.e->>'x'), ${sql.join(columns, sql`, `)},
        custom_attributes = v.e->'c', session_count = (v.e->>'n')::int,
        first_session_at = (v.e->>'f')::timestamptz, last_session_at = (v.e->>'l')::timestamptz,
        merged_into = (v.e->>'m')::uuid, updated_at = (v.e->>'u')::timestamptz
      from (select e, (e->>'id')::uuid as id, e->'a' as a from jsonb_array_elements(${payload}::jsonb) as e) as v
      where p.workspace_id = ${ws} and p.id = v.id`);

    const inIds = uuidArray(ids);
    await tx.execute(
      sql`delete from aliases where workspace_id = ${ws} and profile_id = any(${inIds})`,
    );
    await tx.execute(
      sql`delete from push_tokens where workspace_id = ${ws} and profile_id = any(${inIds})`,
    );
    await tx.execute(
      sql`delete from event_summaries where workspace_id = ${ws} and profile_id = any(${inIds})`,
    );
    await tx.execute(
      sql`delete from event_daily_counts where workspace_id = ${ws} and profile_id = any(${inIds})`,
    );
    await tx.execute(
      sql`delete from purchase_summaries where workspace_id = ${ws} and profile_id = any(${inIds})`,
    );
    await tx.execute(
      sql`delete from app_sessions where workspace_id = ${ws} and profile_id = any(${inIds})`,
    );

    const aliasRows = states.flatMap((s) =>
      s.aliases.map((a) => ({ workspaceId: ws, profileId: s.id, ...a })),
    );
    if (aliasRows.length) await tx.insert(aliases).values(aliasRows);
    const tokenRows = states.flatMap((s) =>
      s.pushTokens.map((t) => ({ workspaceId: ws, profileId: s.id, ...t })),
    );
    if (tokenRows.length) await tx.insert(pushTokens).values(tokenRows);
    const eventRows = states.flatMap((s) =>
      s.events.map((e) => ({
        workspaceId: ws,
        profileId: s.id,
        name: e.name,
        count: e.count,
        firstAt: e.firstAt,
        lastAt: e.lastAt,
      })),
    );
    if (eventRows.length) await tx.insert(eventSummaries).values(eventRows);
    const dayRows = states.flatMap((s) =>
      s.events.flatMap((e) =>
        Object.entries(e.daily).map(([day, count]) => ({
          workspaceId: ws,
          profileId: s.id,
          name: e.name,
          day,
          count,
        })),
      ),
    );
    if (dayRows.length) await tx.insert(eventDailyCounts).values(dayRows);
    const purchaseRows = states.flatMap((s) =>
      s.purchases ? [{ workspaceId: ws, profileId: s.id, ...s.purchases }] : [],
    );
    if (purchaseRows.length) await tx.insert(purchaseSummaries).values(purchaseRows);
    const appRows = states.flatMap((s) =>
      s.apps.map((a) => ({ workspaceId: ws, profileId: s.id, ...a })),
    );
    if (appRows.length) await tx.insert(appSessions).values(appRows);
  }

  /** Tombstones that pointed at an absorbed profile now point at its survivor (no chains). */
  async repointTombstones(
    tx: Tx,
    ws: string,
    moves: readonly { from: string; to: string }[],
  ): Promise<void> {
    if (moves.length === 0) return;
    await tx.execute(sql`
      update profiles p set merged_into = m.t
      from unnest(${uuidArray(moves.map((m) => m.from))}, ${uuidArray(moves.map((m) => m.to))}) as m(f, t)
      where p.workspace_id = ${ws} and p.merged_into = m.f`);
  }

  async insertMerges(
    tx: Tx,
    ws: string,
    records: readonly MergeRecord[],
    now: Date,
  ): Promise<void> {
    if (records.length === 0) return;
    await tx.insert(merges).values(
      records.map((m) => ({
        workspaceId: ws,
        id: m.id,
        behavior: m.behavior,
        survivorId: m.survivorId,
        absorbedId: m.absorbedId,
        externalId: m.externalId,
        identifier: { ...m.identifier },
        changedFields: [...m.changedFields],
        survivorBefore: toJson(m.survivorBefore),
        absorbedBefore: toJson(m.absorbedBefore),
        createdAt: now,
      })),
    );
  }

  async findIdempotent(tx: Tx, ws: string, key: string) {
    const [row] = await tx
      .select()
      .from(idempotencyKeys)
      .where(and(eq(idempotencyKeys.workspaceId, ws), eq(idempotencyKeys.key, key)));
    return row ?? null;
  }

  async saveIdempotent(
    tx: Tx,
    row: {
      workspaceId: string;
      key: string;
      operation: string;
      requestHash: string;
      result: unknown;
      createdAt: Date;
    },
  ): Promise<void> {
    await tx.insert(idempotencyKeys).values(row);
  }
}

function toJson(state: ProfileState): Record<string, unknown> {
  return JSON.parse(JSON.stringify(state)) as Record<string, unknown>;
}
