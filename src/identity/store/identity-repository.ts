/**
 * The SQL of identifyUsers: finds the profiles a request names, locks them, loads them whole as
 * engine snapshots, and writes a plan back. Every step is one statement for the whole request,
 * whatever the number of identifiers in it.
 */
import { and, eq, sql, type SQL } from 'drizzle-orm';

import type { Tx } from '../../db/client.js';
import type { MergeRecord, ProfileState, StandardField } from '../engine/model.js';
import { STANDARD_FIELDS } from '../engine/model.js';
import { idempotencyKeys } from './journal.sql.js';
import { profiles } from './profile.sql.js';
import type { ProfileRow } from './profile-repository.js';
import { recordset } from '../../db/recordset.js';
import { rowsOf } from '../../db/rows.js';
import { epochMs, jsonOf, textArray, uuidArray } from './sql-helpers.js';

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

  /**
   * Whole profiles, with identifiers and summaries, as the engine sees them: one statement, each
   * profile's children as JSON arrays beside its id (times as epoch milliseconds), which costs
   * the gateway a fraction of mapping one row per child through the query builder.
   */
  async loadStates(tx: Tx, ws: string, rows: readonly ProfileRow[]): Promise<ProfileState[]> {
    if (rows.length === 0) return [];
    const query = childrenQuery(
      ws,
      rows.map((r) => r.id),
    );
    const found = rowsOf<ChildrenRow>(await tx.execute(query));
    const children = new Map(found.map((c) => [c.id, c]));
    return rows.map((p) => {
      const c = children.get(p.id)!;
      const purchase = jsonOf<[number, number, number, number] | null>(c.purchases);
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
        aliases: jsonOf<[string, string][]>(c.aliases).map(([aliasLabel, aliasName]) => ({
          aliasLabel,
          aliasName,
        })),
        events: jsonOf<EventJson[]>(c.events).map(([name, count, firstAt, lastAt, daily]) => ({
          name,
          count,
          firstAt: new Date(firstAt),
          lastAt: new Date(lastAt),
          daily: daily ?? {},
        })),
        purchases: purchase
          ? {
              count: purchase[0],
              totalCents: purchase[1],
              firstAt: new Date(purchase[2]),
              lastAt: new Date(purchase[3]),
            }
          : null,
        pushTokens: jsonOf<[string, string, string | null][]>(c.tokens).map(
          ([appId, token, platform]) => ({ appId, token, platform }),
        ),
        apps: jsonOf<[string, number, number, number, number][]>(c.apps).map(
          ([appId, sessionCount, firstSessionAt, lastSessionAt, totalSeconds]) => ({
            appId,
            sessionCount,
            firstSessionAt: new Date(firstSessionAt),
            lastSessionAt: new Date(lastSessionAt),
            totalSeconds,
          }),
        ),
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

/** One profile's children as loadStates reads them: JSON, parsed or as text. */
interface ChildrenRow {
  readonly id: string;
  readonly aliases: unknown;
  readonly events: unknown;
  readonly purchases: unknown;
  readonly tokens: unknown;
  readonly apps: unknown;
}

/** An event summary: name, count, first and last time, and its daily counts by UTC day. */
type EventJson = [string, number, number, number, Record<string, number> | null];

/**
 * The children of the given profiles, one row per profile. Each child list is read by its
 * (workspace, profile) index; an event's days are one JSON object, so a long history costs the
 * gateway one value per day, not one row.
 */
function childrenQuery(ws: string, ids: readonly string[]): SQL {
  const of = (alias: string) => {
    const c = sql.raw(alias);
    return sql`${c}.workspace_id = ${ws} and ${c}.profile_id = p.id`;
  };
  return sql`
    select p.id,
      (select coalesce(json_agg(json_build_array(a.alias_label, a.alias_name)
         order by a.alias_label, a.alias_name), '[]'::json)
       from aliases a where ${of('a')}) as aliases,
      (select coalesce(json_agg(json_build_array(e.name, e.count, ${epochMs('e.first_at')},
         ${epochMs('e.last_at')},
         (select json_object_agg(to_char(d.day, 'YYYY-MM-DD'), d.count)
          from event_daily_counts d where ${of('d')} and d.name = e.name))
         order by e.name), '[]'::json)
       from event_summaries e where ${of('e')}) as events,
      (select json_build_array(s.count, s.total_cents, ${epochMs('s.first_at')},
         ${epochMs('s.last_at')})
       from purchase_summaries s where ${of('s')}) as purchases,
      (select coalesce(json_agg(json_build_array(t.app_id, t.token, t.platform)
         order by t.app_id, t.token), '[]'::json)
       from push_tokens t where ${of('t')}) as tokens,
      (select coalesce(json_agg(json_build_array(s.app_id, s.session_count,
         ${epochMs('s.first_session_at')}, ${epochMs('s.last_session_at')}, s.total_seconds)
         order by s.app_id), '[]'::json)
       from app_sessions s where ${of('s')}) as apps
    from unnest(${uuidArray(ids)}) as p(id)`;
}
