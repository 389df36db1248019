/**
 * Writes of tracked activity, each one statement for a whole request: aggregates are combined in
 * the service first, so every upsert touches a row at most once.
 */
import { and, eq, sql, type SQL } from 'drizzle-orm';

import type { Tx } from '../../db/client.js';
import { profiles } from './profile.sql.js';
import { oneWorkspace, rowsOf } from '../../db/rows.js';
import { columnNames, columnsOf, iso, msOf, unnestRows, type Column } from '../../db/unnest.js';
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

/**
 * The activity tables' columns as writes unnest them (state-writer.ts writes the same tables):
 * the profile and the row's key first, then its values.
 */
export const ACTIVITY_COLUMNS = {
  events: [
    ['profile_id', 'uuid'],
    ['name', 'text'],
    ['count', 'int'],
    ['first_at', 'timestamptz'],
    ['last_at', 'timestamptz'],
  ],
  days: [
    ['profile_id', 'uuid'],
    ['name', 'text'],
    ['day', 'date'],
    ['count', 'int'],
  ],
  purchases: [
    ['profile_id', 'uuid'],
    ['count', 'int'],
    ['total_cents', 'bigint'],
    ['first_at', 'timestamptz'],
    ['last_at', 'timestamptz'],
  ],
  sessions: [
    ['profile_id', 'uuid'],
    ['app_id', 'text'],
    ['session_count', 'int'],
    ['first_session_at', 'timestamptz'],
    ['last_session_at', 'timestamptz'],
    ['total_seconds', 'bigint'],
  ],
  pushTokens: [
    ['app_id', 'text'],
    ['token', 'text'],
    ['profile_id', 'uuid'],
    ['platform', 'text'],
  ],
} as const satisfies Record<string, readonly Column[]>;
const {
  events: EVENT_COLUMNS,
  days: DAY_COLUMNS,
  purchases: PURCHASE_COLUMNS,
  sessions: SESSION_COLUMNS,
  pushTokens: TOKEN_COLUMNS,
} = ACTIVITY_COLUMNS;

/**
 * The aliases of one workspace with these (label, name) keys, as a FROM item `a`: each looked
 * up by its primary key from the list, a plan no statistics can turn into a scan of the
 * workspace's aliases.
 */
function aliasesByKey(
  workspaceId: string,
  pairs: readonly { aliasLabel: string; aliasName: string }[],
): SQL {
  return sql`unnest(${textArray(pairs.map((p) => p.aliasLabel))},
      ${textArray(pairs.map((p) => p.aliasName))}) as k(alias_label, alias_name)
    cross join lateral (
      select x.alias_label, x.alias_name, x.profile_id from aliases x
      where x.workspace_id = ${workspaceId} and x.alias_label = k.alias_label
        and x.alias_name = k.alias_name
      limit 1
    ) as a`;
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

  async aliasOwners(
    tx: Tx,
    workspaceId: string,
    pairs: readonly { aliasLabel: string; aliasName: string }[],
  ): Promise<AliasOwner[]> {
    if (pairs.length === 0) return [];
    const rows = rowsOf<{ alias_label: string; alias_name: string; profile_id: string }>(
      await tx.execute(
        sql`select a.alias_label, a.alias_name, a.profile_id from ${aliasesByKey(workspaceId, pairs)}`,
      ),
    );
    return rows.map((r) => ({
      aliasLabel: r.alias_label,
      aliasName: r.alias_name,
      profileId: r.profile_id,
    }));
  }

  /**
   * The profiles holding these external ids and aliases, row-locked in id order for the rest of
   * the transaction, in one statement (writes to one profile take turns, and a merge cannot absorb
   * them meanwhile). A profile returned with `mergedInto` set was merged away after the caller's
   * identifiers were locked (by another identifier): the caller starts over. Which alias a
   * profile was found by is read apart (see aliasOwners), after this statement.
   */
  async lockHolders(
    tx: Tx,
    workspaceId: string,
    externalIds: readonly string[],
    pairs: readonly { aliasLabel: string; aliasName: string }[],
  ): Promise<{ id: string; externalId: string | null; mergedInto: string | null }[]> {
    if (externalIds.length === 0 && pairs.length === 0) return [];
    const rows = rowsOf<{ id: string; external_id: string | null; merged_into: string | null }>(
      await tx.execute(this.lockHoldersQuery(workspaceId, externalIds, pairs)),
    );
    return rows.map((r) => ({ id: r.id, externalId: r.external_id, mergedInto: r.merged_into }));
  }

  /**
   * The statement of lockHolders (exposed so that tests can EXPLAIN exactly what runs). Each
   * holder is found by its key and locked by its primary key, one row at a time, in id order: no
   * plan, whatever the statistics, reads the workspace's other profiles.
   */
  lockHoldersQuery(
    workspaceId: string,
    externalIds: readonly string[],
    pairs: readonly { aliasLabel: string; aliasName: string }[],
  ): SQL {
    const holders = sql`array(
      select h.id from unnest(${textArray(externalIds)}) as k(external_id)
      cross join lateral (
        select x.id from profiles x
        where x.workspace_id = ${workspaceId} and x.external_id = k.external_id
        limit 1
      ) as h
      union all
      select a.profile_id from ${aliasesByKey(workspaceId, pairs)})`;
    return sql`
      select l.id, l.external_id, l.merged_into
      from (select distinct i.id from unnest(${holders}) as i(id) order by i.id) as i
      cross join lateral (
        select q.id, q.external_id, q.merged_into from profiles q
        where q.workspace_id = ${workspaceId} and q.id = i.id
        limit 1
        for no key update
      ) as l`;
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
    const columns: Column[] = [
      ['id', 'uuid'],
      ['external_id', 'text'],
      ['created_at', 'timestamptz'],
    ];
    await tx.execute(sql`
      insert into profiles (workspace_id, id, external_id, created_at, updated_at)
      select ${oneWorkspace(rows)}::uuid, v.id, v.external_id, v.created_at, v.created_at
      from ${unnestRows(
        columns,
        rows.map((r) => [r.id, r.externalId, msOf(r.createdAt)]),
      )}`);
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
    const columns: Column[] = [
      ['alias_label', 'text'],
      ['alias_name', 'text'],
      ['profile_id', 'uuid'],
    ];
    await tx.execute(sql`
      insert into aliases (workspace_id, ${columnNames(columns)})
      select ${oneWorkspace(rows)}::uuid, ${columnsOf(columns)}
      from ${unnestRows(
        columns,
        rows.map((r) => [r.aliasLabel, r.aliasName, r.profileId]),
      )}`);
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
    await tx.execute(sql`
      insert into event_summaries (workspace_id, ${columnNames(EVENT_COLUMNS)})
      select ${workspaceId}::uuid, ${columnsOf(EVENT_COLUMNS)}
      from ${unnestRows(
        EVENT_COLUMNS,
        events.map((e) => [e.profileId, e.name, e.count, msOf(e.firstAt), msOf(e.lastAt)]),
      )}
      on conflict (workspace_id, profile_id, name) do update set
        count = event_summaries.count + excluded.count,
        first_at = least(event_summaries.first_at, excluded.first_at),
        last_at = greatest(event_summaries.last_at, excluded.last_at)`);
  }

  async addDailyCounts(
    tx: Tx,
    workspaceId: string,
    days: readonly DailyAggregate[],
  ): Promise<void> {
    if (days.length === 0) return;
    await tx.execute(sql`
      insert into event_daily_counts (workspace_id, ${columnNames(DAY_COLUMNS)})
      select ${workspaceId}::uuid, ${columnsOf(DAY_COLUMNS)}
      from ${unnestRows(
        DAY_COLUMNS,
        days.map((d) => [d.profileId, d.name, d.day, d.count]),
      )}
      on conflict (workspace_id, profile_id, name, day) do update set
        count = event_daily_counts.count + excluded.count`);
  }

  /**
   * Deletes the daily counts of these profiles older than the read window (they are never read
   * again), so a profile's rows do not grow with its age. Run by the writes that touch them.
   */
  async pruneDailyCounts(
    tx: Tx,
    workspaceId: string,
    profileIds: readonly string[],
    firstDay: string,
  ): Promise<void> {
    if (profileIds.length === 0) return;
    await tx.execute(sql`
      delete from event_daily_counts
      where workspace_id = ${workspaceId} and profile_id = any(${uuidArray([...new Set(profileIds)])})
        and day < ${firstDay}::date`);
  }

  async addPurchases(
    tx: Tx,
    workspaceId: string,
    purchases: readonly PurchaseAggregate[],
  ): Promise<void> {
    if (purchases.length === 0) return;
    await tx.execute(sql`
      insert into purchase_summaries (workspace_id, ${columnNames(PURCHASE_COLUMNS)})
      select ${workspaceId}::uuid, ${columnsOf(PURCHASE_COLUMNS)}
      from ${unnestRows(
        PURCHASE_COLUMNS,
        purchases.map((p) => [p.profileId, p.count, p.totalCents, msOf(p.firstAt), msOf(p.lastAt)]),
      )}
      on conflict (workspace_id, profile_id) do update set
        count = purchase_summaries.count + excluded.count,
        total_cents = purchase_summaries.total_cents + excluded.total_cents,
        first_at = least(purchase_summaries.first_at, excluded.first_at),
        last_at = greatest(purchase_summaries.last_at, excluded.last_at)`);
  }

  /** Adds sessions to the per-app summaries and to the profiles' own totals. */
  async addSessions(
    tx: Tx,
    workspaceId: string,
    sessions: readonly SessionAggregate[],
  ): Promise<void> {
    if (sessions.length === 0) return;
    const rows = sessions.map((s) => [
      s.profileId,
      s.appId,
      s.count,
      msOf(s.firstAt),
      msOf(s.lastAt),
      s.seconds,
    ]);
    await tx.execute(sql`
      insert into app_sessions (workspace_id, ${columnNames(SESSION_COLUMNS)})
      select ${workspaceId}::uuid, ${columnsOf(SESSION_COLUMNS)}
      from ${unnestRows(SESSION_COLUMNS, rows)}
      on conflict (workspace_id, profile_id, app_id) do update set
        session_count = app_sessions.session_count + excluded.session_count,
        first_session_at = least(app_sessions.first_session_at, excluded.first_session_at),
        last_session_at = greatest(app_sessions.last_session_at, excluded.last_session_at),
        total_seconds = app_sessions.total_seconds + excluded.total_seconds`);
    await tx.execute(sql`
      update profiles p set
        session_count = p.session_count + v.n,
        first_session_at = least(p.first_session_at, v.f),
        last_session_at = greatest(p.last_session_at, v.l)
      from (
        select v.profile_id as id, sum(v.session_count)::int as n,
          min(v.first_session_at) as f, max(v.last_session_at) as l
        from ${unnestRows(SESSION_COLUMNS, rows)} group by 1
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
    await tx.execute(sql`
      insert into push_tokens (workspace_id, ${columnNames(TOKEN_COLUMNS)}, created_at, updated_at)
      select ${workspaceId}::uuid, ${columnsOf(TOKEN_COLUMNS)}, ${iso(now)}::timestamptz,
        ${iso(now)}::timestamptz
      from ${unnestRows(
        TOKEN_COLUMNS,
        tokens.map((t) => [t.appId, t.token, t.profileId, t.platform]),
      )}
      on conflict (workspace_id, app_id, token) do update set
        profile_id = excluded.profile_id,
        platform = coalesce(excluded.platform, push_tokens.platform),
        updated_at = excluded.updated_at`);
  }

  async touchProfiles(
    tx: Tx,
    workspaceId: string,
    ids: readonly string[],
    now: Date,
  ): Promise<void> {
    if (ids.length === 0) return;
    await tx.execute(sql`
      update profiles set updated_at = ${iso(now)}::timestamptz
      where workspace_id = ${workspaceId} and id = any(${uuidArray(ids)})`);
  }
}
