/**
 * The SQL of identifyUsers: finds the profiles a request names, locks them, loads them whole as
 * engine snapshots, and writes a plan back. Every step is one statement for the whole request,
 * whatever the number of identifiers in it.
 */
import { and, eq, sql } from 'drizzle-orm';

import type { Tx } from '../../db/client.js';
import type { MergeRecord, ProfileState, StandardField } from '../engine/model.js';
import { STANDARD_FIELDS } from '../engine/model.js';
import {
  appSessions,
  eventDailyCounts,
  eventSummaries,
  purchaseSummaries,
  pushTokens,
} from './activity.sql.js';
import { idempotencyKeys } from './journal.sql.js';
import { aliases, profiles } from './profile.sql.js';
import type { ProfileRow } from './profile-repository.js';
import { recordset } from '../../db/recordset.js';
import { textArray, uuidArray } from './sql-helpers.js';

export interface IdentifierSets {
  readonly externalIds: readonly string[];
  readonly aliases: readonly { aliasLabel: string; aliasName: string }[];
  readonly emails: readonly string[];
}

export type { ProfileRow } from './profile-repository.js';

const MERGE_COLUMNS = [
  ['id', 'uuid'],
  ['behavior', 'text'],
  ['survivor_id', 'uuid'],
  ['absorbed_id', 'uuid'],
  ['external_id', 'text'],
  ['identifier', 'jsonb'],
  ['changed_fields', 'text[]'],
  ['survivor_before', 'jsonb'],
  ['absorbed_before', 'jsonb'],
] as const;

export class IdentityRepository {
  /**
   * The profiles that hold any of the identifiers, whole rows, locked FOR UPDATE in id order: one
   * statement. A tombstone among them means a merge won a race while this request waited.
   */
  lockProfilesHolding(tx: Tx, ws: string, ids: IdentifierSets): Promise<ProfileRow[]> {
    const holders = sql`(
      select id from profiles
      where workspace_id = ${ws} and merged_into is null
        and (external_id = any(${textArray(ids.externalIds)}) or email = any(${textArray(ids.emails)}))
      union
      select profile_id from aliases
      where workspace_id = ${ws} and (alias_label, alias_name) in (
        select * from unnest(${textArray(ids.aliases.map((a) => a.aliasLabel))}, ${textArray(ids.aliases.map((a) => a.aliasName))})))`;
    return tx
      .select()
      .from(profiles)
      .where(and(eq(profiles.workspaceId, ws), sql`${profiles.id} in ${holders}`))
      .orderBy(profiles.id)
      .for('update');
  }

  /** Whole profile rows by id, locked FOR UPDATE in id order. */
  lockProfiles(tx: Tx, ws: string, ids: readonly string[]): Promise<ProfileRow[]> {
    return tx
      .select()
      .from(profiles)
      .where(and(eq(profiles.workspaceId, ws), sql`${profiles.id} = any(${uuidArray(ids)})`))
      .orderBy(profiles.id)
      .for('update');
  }

  /** Whole profiles, with identifiers and summaries, as the engine sees them. */
  async loadStates(tx: Tx, ws: string, rows: readonly ProfileRow[]): Promise<ProfileState[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const inIds = <T extends { profileId: unknown }>(table: T & { workspaceId: unknown }) =>
      and(
        eq(table.workspaceId as typeof profiles.workspaceId, ws),
        sql`${table.profileId} = any(${uuidArray(ids)})`,
      );
    // Sent together: one round trip for the six tables.
    const [aliasRows, eventRows, dayRows, purchaseRows, tokenRows, appRows] = await Promise.all([
      tx
        .select()
        .from(aliases)
        .where(inIds(aliases))
        .orderBy(aliases.aliasLabel, aliases.aliasName),
      tx.select().from(eventSummaries).where(inIds(eventSummaries)).orderBy(eventSummaries.name),
      // One row per event with its days and counts as arrays, not one row per day: a profile
      // with a long history costs a few rows to read, whatever its days.
      tx
        .select({
          profileId: eventDailyCounts.profileId,
          name: eventDailyCounts.name,
          days: sql<string[]>`array_agg(to_char(${eventDailyCounts.day}, 'YYYY-MM-DD'))`,
          counts: sql<number[]>`array_agg(${eventDailyCounts.count})`,
        })
        .from(eventDailyCounts)
        .where(inIds(eventDailyCounts))
        .groupBy(eventDailyCounts.profileId, eventDailyCounts.name),
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
      for (const r of list) {
        const rows = by.get(r.profileId);
        if (rows) rows.push(r);
        else by.set(r.profileId, [r]);
      }
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
          daily: dailyOf(days.find((d) => d.name === e.name)),
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

  /** Tombstones that pointed at an absorbed profile now point at its survivor (no chains). */
  repointTombstones(tx: Tx, ws: string, moves: readonly { from: string; to: string }[]) {
    if (moves.length === 0) return null;
    return tx.execute(sql`
      update profiles p set merged_into = m.t
      from unnest(${uuidArray(moves.map((m) => m.from))}, ${uuidArray(moves.map((m) => m.to))}) as m(f, t)
      where p.workspace_id = ${ws} and p.merged_into = m.f`);
  }

  insertMerges(tx: Tx, ws: string, records: readonly MergeRecord[], now: Date) {
    if (records.length === 0) return null;
    const rows = records.map((m) => ({
      id: m.id,
      behavior: m.behavior,
      survivor_id: m.survivorId,
      absorbed_id: m.absorbedId,
      external_id: m.externalId,
      identifier: m.identifier,
      changed_fields: m.changedFields,
      survivor_before: m.survivorBefore,
      absorbed_before: m.absorbedBefore,
    }));
    return tx.execute(sql`
      insert into merges (workspace_id, id, behavior, survivor_id, absorbed_id, external_id,
        identifier, changed_fields, survivor_before, absorbed_before, created_at)
      select ${ws}::uuid, v.id, v.behavior, v.survivor_id, v.absorbed_id, v.external_id,
        v.identifier, v.changed_fields, v.survivor_before, v.absorbed_before,
        ${now.toISOString()}::timestamptz
      from ${recordset(rows, MERGE_COLUMNS)}`);
  }

  async findIdempotent(tx: Tx, ws: string, key: string) {
    const [row] = await tx
      .select()
      .from(idempotencyKeys)
      .where(and(eq(idempotencyKeys.workspaceId, ws), eq(idempotencyKeys.key, key)));
    return row ?? null;
  }

  saveIdempotent(
    tx: Tx,
    row: {
      workspaceId: string;
      key: string;
      operation: string;
      requestHash: string;
      result: unknown;
      createdAt: Date;
    },
  ) {
    // An expired record of the same key is replaced (the caller holds the key's lock).
    return tx
      .insert(idempotencyKeys)
      .values(row)
      .onConflictDoUpdate({
        target: [idempotencyKeys.workspaceId, idempotencyKeys.key],
        set: {
          operation: row.operation,
          requestHash: row.requestHash,
          result: row.result,
          createdAt: row.createdAt,
        },
      });
  }
}

/** An event's daily counts from its aggregated row (both drivers return the arrays parsed). */
function dailyOf(row: { days: string[]; counts: number[] } | undefined): Record<string, number> {
  if (!row) return {};
  return Object.fromEntries(row.days.map((day, i) => [day, row.counts[i]]));
}
