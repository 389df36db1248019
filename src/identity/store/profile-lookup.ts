/**
 * One profile and the children a query asks for, in one prepared statement per kind of key: the
 * children come back as JSON arrays beside the profile's columns, each computed only when
 * wanted. A `profile(by:)` read is then a single round trip instead of one for the profile and
 * one more for its children.
 */
import { and, desc, eq, getTableColumns, isNull, sql, type SQL } from 'drizzle-orm';

import type { Db } from '../../db/client.js';
import { profiles } from './profile.sql.js';
import { epochMs, jsonOf } from './sql-helpers.js';
import type {
  AliasRow,
  AppSessionRow,
  DailyCountRow,
  EventSummaryRow,
  ProfileRow,
  PurchaseSummaryRow,
  PushTokenRow,
} from './profile-repository.js';

export interface ChildWants {
  readonly aliases: boolean;
  readonly events: boolean;
  readonly dailyCounts: boolean;
  readonly purchases: boolean;
  readonly pushTokens: boolean;
  readonly appSessions: boolean;
}

export interface ProfileWithChildren {
  readonly profile: ProfileRow;
  /** Only the wanted children are present. */
  readonly aliases?: AliasRow[];
  readonly events?: EventSummaryRow[];
  readonly dailyCounts?: DailyCountRow[];
  readonly purchases?: PurchaseSummaryRow | null;
  readonly pushTokens?: PushTokenRow[];
  readonly appSessions?: AppSessionRow[];
}

export type ProfileKey =
  | { readonly kind: 'id'; readonly id: string }
  | { readonly kind: 'externalId'; readonly externalId: string }
  | { readonly kind: 'email'; readonly email: string }
  | { readonly kind: 'alias'; readonly label: string; readonly name: string };

const ws = sql.placeholder('ws');
const p = profiles;

export class ProfileLookupRepository {
  private readonly statements: Record<ProfileKey['kind'], Lookup>;

  constructor(db: Db) {
    const id = sql.placeholder('id');
    const build = (name: string, match: SQL, order: SQL[] = []) =>
      buildLookup(db, name, match, order);
    this.statements = {
      id: build(
        'profile_with_children_by_id',
        // A tombstone's id resolves to the live profile it was merged into.
        sql`${p.id} = coalesce((select t.merged_into from profiles t
          where t.workspace_id = ${ws} and t.id = ${id}::uuid), ${id}::uuid)`,
      ),
      externalId: build(
        'profile_with_children_by_external_id',
        eq(p.externalId, sql.placeholder('externalId')),
      ),
      email: build(
        'profile_with_children_by_email',
        and(eq(p.email, sql.placeholder('email')), isNull(p.mergedInto))!,
        // Several live profiles may share an email: identified ones first, then the freshest.
        [sql`${p.externalId} is null`, desc(p.updatedAt), desc(p.id)],
      ),
      alias: build(
        'profile_with_children_by_alias',
        sql`${p.id} = (select a.profile_id from aliases a where a.workspace_id = ${ws}
          and a.alias_label = ${sql.placeholder('label')} and a.alias_name = ${sql.placeholder('name')})`,
      ),
    };
  }

  async find(
    workspaceId: string,
    key: ProfileKey,
    wants: ChildWants,
    sinceDay: string,
  ): Promise<ProfileWithChildren | null> {
    const { kind, ...values } = key;
    const [row] = await this.statements[kind].execute({
      ws: workspaceId,
      ...values,
      wa: wants.aliases,
      we: wants.events,
      wd: wants.dailyCounts,
      wp: wants.purchases,
      wt: wants.pushTokens,
      ws2: wants.appSessions,
      since: sinceDay,
    });
    if (!row) return null;
    const { aliasesJson, eventsJson, daysJson, purchasesJson, tokensJson, appsJson, ...profile } =
      row;
    // The parsed rows are this call's own: completed in place, which keeps one shape for all.
    const dated = <T>(value: unknown, dates: readonly string[]): T[] => {
      const rows = parseJson(value) as Record<string, unknown>[];
      for (const r of rows) {
        r['workspaceId'] = workspaceId;
        r['profileId'] = profile.id;
        for (const d of dates) r[d] = r[d] === null ? null : new Date(r[d] as number);
      }
      return rows as T[];
    };
    const purchases = wants.purchases
      ? (dated<PurchaseSummaryRow>(purchasesJson, ['firstAt', 'lastAt'])[0] ?? null)
      : undefined;
    return {
      profile,
      ...(wants.aliases && { aliases: dated<AliasRow>(aliasesJson, ['createdAt']) }),
      ...(wants.events && { events: dated<EventSummaryRow>(eventsJson, ['firstAt', 'lastAt']) }),
      ...(wants.dailyCounts && { dailyCounts: dated<DailyCountRow>(daysJson, []) }),
      ...(wants.purchases && { purchases }),
      ...(wants.pushTokens && {
        pushTokens: dated<PushTokenRow>(tokensJson, ['createdAt', 'updatedAt']),
      }),
      ...(wants.appSessions && {
        appSessions: dated<AppSessionRow>(appsJson, ['firstSessionAt', 'lastSessionAt']),
      }),
    };
  }
}

/**
 * The child's key, qualified by hand: drizzle writes the columns of a single-table select
 * unqualified, and inside the subquery those would name the child's own columns.
 */
const outer = sql.raw('"profiles"."workspace_id" and c.profile_id = "profiles"."id"');

function buildLookup(db: Db, name: string, match: SQL, order: SQL[]) {
  const flag = (n: string) => sql`${sql.placeholder(n)}::boolean`;
  const children = {
    aliasesJson: sql<unknown>`case when ${flag('wa')} then (select coalesce(json_agg(
      json_build_object('aliasLabel', c.alias_label, 'aliasName', c.alias_name,
        'createdAt', ${epochMs('c.created_at')}) order by c.alias_label, c.alias_name), '[]'::json)
      from aliases c where c.workspace_id = ${outer}) end`,
    eventsJson: sql<unknown>`case when ${flag('we')} then (select coalesce(json_agg(
      json_build_object('name', c.name, 'count', c.count, 'firstAt', ${epochMs('c.first_at')},
        'lastAt', ${epochMs('c.last_at')}) order by c.name), '[]'::json)
      from event_summaries c where c.workspace_id = ${outer}) end`,
    daysJson: sql<unknown>`case when ${flag('wd')} then (select coalesce(json_agg(
      json_build_object('name', c.name, 'day', c.day, 'count', c.count) order by c.day),
      '[]'::json)
      from event_daily_counts c where c.workspace_id = ${outer}
        and c.day >= ${sql.placeholder('since')}::date) end`,
    purchasesJson: sql<unknown>`case when ${flag('wp')} then (select coalesce(json_agg(
      json_build_object('count', c.count, 'totalCents', c.total_cents, 'firstAt', ${epochMs('c.first_at')},
        'lastAt', ${epochMs('c.last_at')})), '[]'::json)
      from purchase_summaries c where c.workspace_id = ${outer}) end`,
    tokensJson: sql<unknown>`case when ${flag('wt')} then (select coalesce(json_agg(
      json_build_object('appId', c.app_id, 'token', c.token, 'platform', c.platform,
        'createdAt', ${epochMs('c.created_at')}, 'updatedAt', ${epochMs('c.updated_at')}) order by c.app_id, c.token),
      '[]'::json)
      from push_tokens c where c.workspace_id = ${outer}) end`,
    appsJson: sql<unknown>`case when ${flag('ws2')} then (select coalesce(json_agg(
      json_build_object('appId', c.app_id, 'sessionCount', c.session_count,
        'firstSessionAt', ${epochMs('c.first_session_at')}, 'lastSessionAt', ${epochMs('c.last_session_at')},
        'totalSeconds', c.total_seconds) order by c.app_id), '[]'::json)
      from app_sessions c where c.workspace_id = ${outer}) end`,
  };
  return db
    .select({ ...getTableColumns(profiles), ...children })
    .from(profiles)
    .where(and(eq(p.workspaceId, ws), match))
    .orderBy(...order)
    .limit(1)
    .prepare(name);
}

type Lookup = ReturnType<typeof buildLookup>;

/** A json array column; null (a child not asked for) as none. */
function parseJson(value: unknown): unknown[] {
  return value === null || value === undefined ? [] : jsonOf<unknown[]>(value);
}
