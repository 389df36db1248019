/**
 * Reading the identity graph: one profile by any of its identifiers, pages of profiles and
 * aliases, and per-request loaders that fetch the children of many profiles in one query each.
 */
import DataLoader from 'dataloader';

import type { Db } from '../db/client.js';
import { badInput, type InputProblem } from '../lib/app-error.js';
import {
  badCursor,
  checkCursor,
  checkFirst,
  toPage,
  type Page,
  type PageRequest,
} from '../lib/paging.js';
import { isUuid } from '../lib/uuid.js';
import { normalizeEmail } from './engine/identifiers.js';
import {
  ProfileRepository,
  type AliasFilter,
  type AliasRow,
  type AppSessionRow,
  type DailyCountRow,
  type EventSummaryRow,
  type ProfileFilter,
  type ProfileRow,
  type PurchaseSummaryRow,
  type PushTokenRow,
} from './store/profile-repository.js';
import { MergeRepository, type MergeRow } from './store/merge-repository.js';
import {
  ProfileLookupRepository,
  type ChildWants,
  type ProfileKey,
  type ProfileWithChildren,
} from './store/profile-lookup.js';
import { firstDayOfWindow } from './track-aggregate.js';

export type { AliasRow, ProfileRow } from './store/profile-repository.js';
export type { MergeRow } from './store/merge-repository.js';
export type { ChildWants, ProfileWithChildren } from './store/profile-lookup.js';
import type { WorkspaceScope } from './track-service.js';
import { textProblem, type UserAliasValue } from './user-ref.js';

export { MAX_PAGE_SIZE, type Page, type PageRequest } from '../lib/paging.js';

/**
 * What is wrong with a lookup, as input problems under `path`: exactly one of its fields, text
 * that can be stored and searched, a profile id that is a UUID.
 */
export function lookupProblems(by: ProfileLookupValue, path: string): InputProblem[] {
  const given = Object.values(by).filter((v) => v != null).length;
  if (given !== 1) {
    return [{ path, message: 'give exactly one of id, externalId, alias, email, anonId' }];
  }
  const problems: InputProblem[] = [];
  for (const [key, value] of Object.entries({ ...by.alias, ...by })) {
    if (typeof value === 'string') {
      const p = textProblem(value, 1024);
      if (p) problems.push({ path: `${path}.${key}`, message: p });
    }
  }
  if (by.id != null && !isUuid(by.id)) {
    problems.push({ path: `${path}.id`, message: 'is not a profile id' });
  }
  return problems;
}

export interface ProfileLookupValue {
  readonly id?: string | null;
  readonly externalId?: string | null;
  readonly alias?: UserAliasValue | null;
  readonly email?: string | null;
  readonly anonId?: string | null;
}

export interface ProfileLoaders {
  readonly profile: DataLoader<string, ProfileRow | null>;
  /** Profiles by external id, one statement per batch (federation's entity references). */
  readonly profileByExternalId: DataLoader<string, ProfileRow | null>;
  readonly aliases: DataLoader<string, AliasRow[]>;
  readonly events: DataLoader<string, EventSummaryRow[]>;
  readonly dailyCounts: DataLoader<string, DailyCountRow[]>;
  readonly purchases: DataLoader<string, PurchaseSummaryRow | null>;
  readonly pushTokens: DataLoader<string, PushTokenRow[]>;
  readonly appSessions: DataLoader<string, AppSessionRow[]>;
  readonly merge: DataLoader<string, MergeRow | null>;
  readonly mergesSurvived: DataLoader<string, MergeRow[]>;
}

const NO_CHILDREN: ChildWants = {
  aliases: false,
  events: false,
  dailyCounts: false,
  purchases: false,
  pushTokens: false,
  appSessions: false,
};

export class ProfileQueryService {
  readonly repo: ProfileRepository;
  private readonly merges: MergeRepository;
  private readonly lookup: ProfileLookupRepository;

  /** `reads`: where single-profile lookups and the children loaders go (see Database.reads). */
  constructor(
    db: Db,
    private readonly clock: () => Date = () => new Date(),
    reads: Db = db,
  ) {
    this.repo = new ProfileRepository(db, reads);
    this.merges = new MergeRepository(db);
    this.lookup = new ProfileLookupRepository(reads);
  }

  /** Merges newest first; with a profile id, those it survived or was absorbed in. */
  async listMerges(
    scope: WorkspaceScope,
    profileId: string | null,
    page: PageRequest,
  ): Promise<Page<MergeRow>> {
    const first = checkFirst(page.first);
    const [beforeId] = page.after != null ? checkCursor(page.after, 1) : [null];
    if (beforeId != null && !isUuid(beforeId)) throw badCursor();
    if (profileId != null && !isUuid(profileId)) {
      throw badInput([{ path: 'profileId', message: 'is not a profile id' }]);
    }
    const rows = await this.merges.list(scope.workspaceId, profileId, beforeId ?? null, first + 1);
    return toPage(
      rows,
      { first, after: page.after },
      (m) => [m.id],
      () => this.merges.count(scope.workspaceId, profileId),
    );
  }

  /** The live profile an identifier resolves to; an absorbed profile's id resolves to its survivor. */
  async findProfile(scope: WorkspaceScope, by: ProfileLookupValue): Promise<ProfileRow | null> {
    return (await this.findProfileWith(scope, by, NO_CHILDREN))?.profile ?? null;
  }

  /** The same, with the children a query wants read in the same statement. */
  async findProfileWith(
    scope: WorkspaceScope,
    by: ProfileLookupValue,
    wants: ChildWants,
  ): Promise<ProfileWithChildren | null> {
    const problems = lookupProblems(by, 'by');
    if (problems.length > 0) throw badInput(problems);
    const ws = scope.workspaceId;

    const key: ProfileKey =
      by.id != null
        ? { kind: 'id', id: by.id }
        : by.externalId != null
          ? { kind: 'externalId', externalId: by.externalId }
          : by.email != null
            ? { kind: 'email', email: normalizeEmail(by.email) }
            : by.anonId != null
              ? { kind: 'alias', label: scope.anonIdLabel, name: by.anonId }
              : { kind: 'alias', label: by.alias!.aliasLabel, name: by.alias!.aliasName };
    return this.lookup.find(ws, key, wants, firstDayOfWindow(this.clock()));
  }

  /** Text filters go to SQL: they must be storable text. */
  private checkFilters(filters: Record<string, string | null | undefined>): void {
    const problems: InputProblem[] = [];
    for (const [name, value] of Object.entries(filters)) {
      const p = value == null ? null : textProblem(value, 1024);
      if (p) problems.push({ path: name, message: p });
    }
    if (problems.length > 0) throw badInput(problems);
  }

  async listProfiles(
    scope: WorkspaceScope,
    filter: ProfileFilter,
    page: PageRequest,
  ): Promise<Page<ProfileRow>> {
    const first = checkFirst(page.first);
    this.checkFilters({ email: filter.email });
    const [afterId] = page.after != null ? checkCursor(page.after, 1) : [null];
    if (afterId != null && !isUuid(afterId)) throw badCursor();
    const normalized = {
      ...filter,
      email: filter.email != null ? normalizeEmail(filter.email) : null,
    };
    const rows = await this.repo.listProfiles(
      scope.workspaceId,
      normalized,
      afterId ?? null,
      first + 1,
    );
    return toPage(
      rows,
      { first, after: page.after },
      (p) => [p.id],
      () => this.repo.countProfiles(scope.workspaceId, normalized),
    );
  }

  async listAliases(
    scope: WorkspaceScope,
    filter: AliasFilter,
    page: PageRequest,
  ): Promise<Page<AliasRow>> {
    const first = checkFirst(page.first);
    this.checkFilters({ aliasLabel: filter.aliasLabel, aliasName: filter.aliasName });
    const after = page.after != null ? (checkCursor(page.after, 2) as [string, string]) : null;
    const rows = await this.repo.listAliases(scope.workspaceId, filter, after, first + 1);
    return toPage(
      rows,
      { first, after: page.after },
      (a) => [a.aliasLabel, a.aliasName],
      () => this.repo.countAliases(scope.workspaceId, filter),
    );
  }

  /** Hands children read with their profile to the request's loaders, which then ask nothing. */
  primeLoaders(loaders: ProfileLoaders, found: ProfileWithChildren): void {
    const id = found.profile.id;
    loaders.profile.prime(id, found.profile);
    if (found.aliases) loaders.aliases.prime(id, found.aliases);
    if (found.events) loaders.events.prime(id, found.events);
    if (found.dailyCounts) loaders.dailyCounts.prime(id, found.dailyCounts);
    if (found.purchases !== undefined) loaders.purchases.prime(id, found.purchases);
    if (found.pushTokens) loaders.pushTokens.prime(id, found.pushTokens);
    if (found.appSessions) loaders.appSessions.prime(id, found.appSessions);
  }

  /** Loaders for one request: each batches the lookups made while resolving one GraphQL result. */
  createLoaders(workspaceId: string): ProfileLoaders {
    const repo = this.repo;
    const group = <R>(rows: R[], key: (r: R) => string, ids: readonly string[]) => {
      const byId = new Map<string, R[]>(ids.map((id) => [id, []]));
      for (const r of rows) byId.get(key(r))?.push(r);
      return ids.map((id) => byId.get(id)!);
    };
    return {
      profile: new DataLoader(async (ids) => {
        const rows = await repo.findByIds(workspaceId, ids);
        const byId = new Map(rows.map((r) => [r.id, r]));
        return ids.map((id) => byId.get(id) ?? null);
      }),
      profileByExternalId: new DataLoader(async (externalIds) => {
        const rows = await repo.findByExternalIds(workspaceId, externalIds);
        const byExternalId = new Map(rows.map((r) => [r.externalId, r]));
        return externalIds.map((x) => byExternalId.get(x) ?? null);
      }),
      aliases: new DataLoader(async (ids) =>
        group(await repo.aliasesOfProfiles(workspaceId, ids), (r) => r.profileId, ids),
      ),
      events: new DataLoader(async (ids) =>
        group(await repo.eventsOfProfiles(workspaceId, ids), (r) => r.profileId, ids),
      ),
      dailyCounts: new DataLoader(async (ids) =>
        group(
          await repo.dailyCountsOfProfiles(workspaceId, ids, firstDayOfWindow(this.clock())),
          (r) => r.profileId,
          ids,
        ),
      ),
      purchases: new DataLoader(async (ids) => {
        const rows = await repo.purchasesOfProfiles(workspaceId, ids);
        const byId = new Map(rows.map((r) => [r.profileId, r]));
        return ids.map((id) => byId.get(id) ?? null);
      }),
      pushTokens: new DataLoader(async (ids) =>
        group(await repo.pushTokensOfProfiles(workspaceId, ids), (r) => r.profileId, ids),
      ),
      appSessions: new DataLoader(async (ids) =>
        group(await repo.appSessionsOfProfiles(workspaceId, ids), (r) => r.profileId, ids),
      ),
      merge: new DataLoader(async (ids) => {
        const rows = await this.merges.findByIds(workspaceId, ids);
        const byId = new Map(rows.map((r) => [r.id, r]));
        return ids.map((id) => byId.get(id) ?? null);
      }),
      mergesSurvived: new DataLoader(async (ids) =>
        group(await this.merges.findBySurvivors(workspaceId, ids), (r) => r.survivorId, ids),
      ),
    };
  }
}
