/**
 * Reads of the identity graph: single lookups on prepared statements (the hot paths), pages of
 * profiles and aliases, and set-based loaders that fetch one kind of child row for many profiles
 * in one query.
 */
import { and, asc, count, eq, gt, isNotNull, isNull, or, sql, type SQL } from 'drizzle-orm';

import type { Db } from '../../db/client.js';
import {
  appSessions,
  eventDailyCounts,
  eventSummaries,
  purchaseSummaries,
  pushTokens,
} from './activity.sql.js';
import { aliases, profiles } from './profile.sql.js';

export type ProfileRow = typeof profiles.$inferSelect;
export type AliasRow = typeof aliases.$inferSelect;
export type EventSummaryRow = typeof eventSummaries.$inferSelect;
export type DailyCountRow = typeof eventDailyCounts.$inferSelect;
export type PurchaseSummaryRow = typeof purchaseSummaries.$inferSelect;
export type PushTokenRow = typeof pushTokens.$inferSelect;
export type AppSessionRow = typeof appSessions.$inferSelect;

export interface ProfileFilter {
  readonly identified?: boolean | null;
  readonly email?: string | null;
}

export interface AliasFilter {
  readonly aliasLabel?: string | null;
  readonly aliasName?: string | null;
}

const ws = sql.placeholder('ws');

export class ProfileRepository {
  private readonly byIds;
  private readonly byExternalIds;
  private readonly aliasesOf;
  private readonly eventsOf;
  private readonly dailyCountsOf;
  private readonly purchasesOf;
  private readonly pushTokensOf;
  private readonly appSessionsOf;

  /** Lookups and loaders are prepared on `reads`; pages and counts run on `db`. */
  constructor(
    private readonly db: Db,
    reads: Db = db,
  ) {
    const ids = sql.placeholder('ids');
    this.byIds = reads
      .select()
      .from(profiles)
      .where(and(eq(profiles.workspaceId, ws), sql`${profiles.id} = any(${ids}::uuid[])`))
      .prepare('profiles_by_ids');
    this.byExternalIds = reads
      .select()
      .from(profiles)
      .where(
        and(
          eq(profiles.workspaceId, ws),
          sql`${profiles.externalId} = any(${sql.placeholder('externalIds')}::text[])`,
        ),
      )
      .prepare('profiles_by_external_ids');
    this.aliasesOf = reads
      .select()
      .from(aliases)
      .where(and(eq(aliases.workspaceId, ws), sql`${aliases.profileId} = any(${ids}::uuid[])`))
      .orderBy(asc(aliases.aliasLabel), asc(aliases.aliasName))
      .prepare('aliases_of_profiles');
    this.eventsOf = reads
      .select()
      .from(eventSummaries)
      .where(
        and(
          eq(eventSummaries.workspaceId, ws),
          sql`${eventSummaries.profileId} = any(${ids}::uuid[])`,
        ),
      )
      .orderBy(asc(eventSummaries.name))
      .prepare('events_of_profiles');
    this.dailyCountsOf = reads
      .select()
      .from(eventDailyCounts)
      .where(
        and(
          eq(eventDailyCounts.workspaceId, ws),
          sql`${eventDailyCounts.profileId} = any(${ids}::uuid[])`,
          sql`${eventDailyCounts.day} >= ${sql.placeholder('since')}::date`,
        ),
      )
      .orderBy(asc(eventDailyCounts.day))
      .prepare('daily_counts_of_profiles');
    this.purchasesOf = reads
      .select()
      .from(purchaseSummaries)
      .where(
        and(
          eq(purchaseSummaries.workspaceId, ws),
          sql`${purchaseSummaries.profileId} = any(${ids}::uuid[])`,
        ),
      )
      .prepare('purchases_of_profiles');
    this.pushTokensOf = reads
      .select()
      .from(pushTokens)
      .where(
        and(eq(pushTokens.workspaceId, ws), sql`${pushTokens.profileId} = any(${ids}::uuid[])`),
      )
      .orderBy(asc(pushTokens.appId), asc(pushTokens.token))
      .prepare('push_tokens_of_profiles');
    this.appSessionsOf = reads
      .select()
      .from(appSessions)
      .where(
        and(eq(appSessions.workspaceId, ws), sql`${appSessions.profileId} = any(${ids}::uuid[])`),
      )
      .orderBy(asc(appSessions.appId))
      .prepare('app_sessions_of_profiles');
  }

  findByIds(workspaceId: string, ids: readonly string[]): Promise<ProfileRow[]> {
    return this.byIds.execute({ ws: workspaceId, ids: [...ids] });
  }

  findByExternalIds(workspaceId: string, externalIds: readonly string[]): Promise<ProfileRow[]> {
    return this.byExternalIds.execute({ ws: workspaceId, externalIds: [...externalIds] });
  }

  aliasesOfProfiles(workspaceId: string, ids: readonly string[]): Promise<AliasRow[]> {
    return this.aliasesOf.execute({ ws: workspaceId, ids: [...ids] });
  }

  eventsOfProfiles(workspaceId: string, ids: readonly string[]): Promise<EventSummaryRow[]> {
    return this.eventsOf.execute({ ws: workspaceId, ids: [...ids] });
  }

  dailyCountsOfProfiles(
    workspaceId: string,
    ids: readonly string[],
    sinceDay: string,
  ): Promise<DailyCountRow[]> {
    return this.dailyCountsOf.execute({ ws: workspaceId, ids: [...ids], since: sinceDay });
  }

  purchasesOfProfiles(workspaceId: string, ids: readonly string[]): Promise<PurchaseSummaryRow[]> {
    return this.purchasesOf.execute({ ws: workspaceId, ids: [...ids] });
  }

  pushTokensOfProfiles(workspaceId: string, ids: readonly string[]): Promise<PushTokenRow[]> {
    return this.pushTokensOf.execute({ ws: workspaceId, ids: [...ids] });
  }

  appSessionsOfProfiles(workspaceId: string, ids: readonly string[]): Promise<AppSessionRow[]> {
    return this.appSessionsOf.execute({ ws: workspaceId, ids: [...ids] });
  }

  /** Live profiles in id (= creation) order, after the cursor's id. */
  listProfiles(
    workspaceId: string,
    filter: ProfileFilter,
    afterId: string | null,
    limit: number,
  ): Promise<ProfileRow[]> {
    const where = and(
      this.profileFilter(workspaceId, filter),
      afterId ? gt(profiles.id, afterId) : undefined,
    );
    return this.db.select().from(profiles).where(where).orderBy(asc(profiles.id)).limit(limit);
  }

  async countProfiles(workspaceId: string, filter: ProfileFilter): Promise<number> {
    const [row] = await this.db
      .select({ n: count() })
      .from(profiles)
      .where(this.profileFilter(workspaceId, filter));
    return row?.n ?? 0;
  }

  /** Aliases in (label, name) order, after the cursor's pair. */
  listAliases(
    workspaceId: string,
    filter: AliasFilter,
    after: readonly [string, string] | null,
    limit: number,
  ): Promise<AliasRow[]> {
    const where = and(
      this.aliasFilter(workspaceId, filter),
      after
        ? or(
            gt(aliases.aliasLabel, after[0]),
            and(eq(aliases.aliasLabel, after[0]), gt(aliases.aliasName, after[1])),
          )
        : undefined,
    );
    return this.db
      .select()
      .from(aliases)
      .where(where)
      .orderBy(asc(aliases.aliasLabel), asc(aliases.aliasName))
      .limit(limit);
  }

  async countAliases(workspaceId: string, filter: AliasFilter): Promise<number> {
    const [row] = await this.db
      .select({ n: count() })
      .from(aliases)
      .where(this.aliasFilter(workspaceId, filter));
    return row?.n ?? 0;
  }

  private profileFilter(workspaceId: string, filter: ProfileFilter): SQL | undefined {
    return and(
      eq(profiles.workspaceId, workspaceId),
      isNull(profiles.mergedInto),
      filter.identified === true ? isNotNull(profiles.externalId) : undefined,
      filter.identified === false ? isNull(profiles.externalId) : undefined,
      filter.email != null ? eq(profiles.email, filter.email) : undefined,
    );
  }

  private aliasFilter(workspaceId: string, filter: AliasFilter): SQL | undefined {
    return and(
      eq(aliases.workspaceId, workspaceId),
      filter.aliasLabel != null ? eq(aliases.aliasLabel, filter.aliasLabel) : undefined,
      filter.aliasName != null ? eq(aliases.aliasName, filter.aliasName) : undefined,
    );
  }
}
