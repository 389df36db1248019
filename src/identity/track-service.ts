/**
 * trackUsers: records attributes and activity for users named by external id, alias or anon id,
 * creating the users that do not exist yet, all in one transaction.
 */
import type { Db, Tx } from '../db/client.js';
import { allInOrder, inTransaction, RaceLostError } from '../db/transaction.js';
import type { SuppressionList } from '../erasure/suppression.js';
import { uuidv7 } from '../lib/uuid.js';
import { identifierKey, type IdentifierRef } from './engine/identifiers.js';
import { TrackRepository } from './store/track-repository.js';
import { aggregateTrack, firstDayOfWindow } from './track-aggregate.js';
import {
  validateTrack,
  type Located,
  type TrackUsersRequest,
  type ValidTrack,
} from './track-input.js';
import { notifyChanges } from '../live/changes.js';

export interface WorkspaceScope {
  readonly workspaceId: string;
  readonly anonIdLabel: string;
}

export interface TrackUsersResult {
  readonly attributesProcessed: number;
  readonly eventsProcessed: number;
  readonly purchasesProcessed: number;
  readonly sessionsProcessed: number;
  readonly pushTokensProcessed: number;
  /** Objects dropped because they name a forgotten (suppressed) identifier. */
  readonly suppressed: number;
  readonly message: string;
}

export class TrackService {
  private readonly repo = new TrackRepository();

  constructor(
    private readonly db: Db,
    private readonly suppressions: SuppressionList,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async track(scope: WorkspaceScope, request: TrackUsersRequest): Promise<TrackUsersResult> {
    const now = this.clock();
    const checked = validateTrack(request, scope.anonIdLabel, now);
    const all: Located<unknown>[] = [
      ...checked.attributes,
      ...checked.events,
      ...checked.purchases,
      ...checked.sessions,
      ...checked.pushTokens,
    ];
    const refs = new Map<string, IdentifierRef>(all.map((l) => [identifierKey(l.user), l.user]));

    const valid = await inTransaction(this.db, async (tx) => {
      const { profileByKey, existing, suppressed, created } = await resolveOrCreate(
        this.repo,
        tx,
        scope.workspaceId,
        refs,
        now,
        this.suppressions,
      );
      // Objects naming a forgotten identifier are dropped; the rest of the request is applied.
      const valid = suppressed.size === 0 ? checked : withoutSuppressed(checked, suppressed);
      const profileOf = (l: Located<unknown>) => profileByKey.get(identifierKey(l.user))!;
      const writes = aggregateTrack(valid, profileOf, now);
      const ws = scope.workspaceId;
      // The new users first, then writes independent of one another (each table once; the two
      // profile updates set different columns): sent together, one round trip.
      await allInOrder([
        insertCreated(this.repo, tx, created),
        this.repo.applyAttributes(tx, ws, writes.attributes),
        this.repo.addEvents(tx, ws, writes.events),
        this.repo.addDailyCounts(tx, ws, writes.dailyCounts),
        this.repo.pruneDailyCounts(
          tx,
          ws,
          writes.dailyCounts.map((d) => d.profileId),
          firstDayOfWindow(now),
        ),
        this.repo.addPurchases(tx, ws, writes.purchases),
        this.repo.addSessions(tx, ws, writes.sessions),
        this.repo.upsertPushTokens(tx, ws, writes.pushTokens, now),
        // New users were created as of now; only the others need it.
        this.repo.touchProfiles(tx, ws, existing, now),
        notifyChanges(tx, {
          workspaceId: ws,
          profiles: [...profileByKey.values()],
          merges: [],
          forgotten: [],
        }),
      ]);
      return valid;
    });

    const processed =
      valid.attributes.length +
      valid.events.length +
      valid.purchases.length +
      valid.sessions.length +
      valid.pushTokens.length;
    return {
      attributesProcessed: valid.attributes.length,
      eventsProcessed: valid.events.length,
      purchasesProcessed: valid.purchases.length,
      sessionsProcessed: valid.sessions.length,
      pushTokensProcessed: valid.pushTokens.length,
      suppressed: all.length - processed,
      message: 'success',
    };
  }
}

/** The request without the objects that name a suppressed identifier. */
function withoutSuppressed(valid: ValidTrack, suppressed: ReadonlySet<string>): ValidTrack {
  const keep = <L extends Located<unknown>>(list: readonly L[]) =>
    list.filter((l) => !suppressed.has(identifierKey(l.user)));
  return {
    attributes: keep(valid.attributes),
    events: keep(valid.events),
    purchases: keep(valid.purchases),
    sessions: keep(valid.sessions),
    pushTokens: keep(valid.pushTokens),
  };
}

/**
 * Maps each identifier to its live profile, creating the users that do not exist: an identified
 * profile for an unknown external id, an alias-only or anonymous one for an unknown alias.
 * Identifiers are share-locked (identifyUsers takes them exclusively) and the profiles row-locked
 * in id order, so a merge cannot move them away until this transaction ends. A suppressed
 * (forgotten) identifier is neither resolved nor created: it comes back in `suppressed`. The
 * users to create come back in `created`, for the caller to insert (insertCreated) together with
 * its writes.
 */
export async function resolveOrCreate(
  repo: TrackRepository,
  tx: Tx,
  workspaceId: string,
  named: ReadonlyMap<string, IdentifierRef>,
  now: Date,
  suppressions: SuppressionList,
): Promise<{
  profileByKey: Map<string, string>;
  /** The profiles that held the identifiers already (the others are in `created`). */
  existing: string[];
  suppressed: Set<string>;
  created: CreatedUsers;
}> {
  const externalIds: string[] = [];
  const pairs: { aliasLabel: string; aliasName: string }[] = [];
  for (const ref of named.values()) {
    if (ref.kind === 'externalId') externalIds.push(ref.externalId);
    else if (ref.kind === 'alias') pairs.push(ref);
  }
  // One round trip: the identifiers locked, then the profiles holding them found and locked,
  // then the alias owners and the suppressions read. Statements of a transaction run
  // in the order they were sent, each with a snapshot taken when it starts, so every read comes
  // after the locks it needs.
  const [, held, byAlias, suppressed] = await allInOrder([
    repo.lockIdentifiers(tx, workspaceId, [...named.keys()], 'shared'),
    repo.lockHolders(tx, workspaceId, externalIds, pairs),
    repo.aliasOwners(tx, workspaceId, pairs),
    suppressions.suppressed(tx, workspaceId, [...named.keys()]),
  ]);
  const refs =
    suppressed.size === 0 ? named : new Map([...named].filter(([key]) => !suppressed.has(key)));
  const live = new Set(held.filter((p) => p.mergedInto === null).map((p) => p.id));
  // A profile merged away after the identifiers were locked, or an alias that moved to a profile
  // this statement did not lock: start over and resolve again.
  if (live.size < held.length || byAlias.some((a) => !live.has(a.profileId))) {
    throw new RaceLostError('a profile was merged while it was being tracked');
  }
  const found = new Map<string, string>();
  for (const p of held) {
    if (p.externalId === null) continue;
    const key = identifierKey({ kind: 'externalId', externalId: p.externalId });
    if (refs.has(key)) found.set(key, p.id);
  }
  for (const a of byAlias) {
    const key = identifierKey({ kind: 'alias', ...a });
    if (refs.has(key)) found.set(key, a.profileId);
  }

  const existing = [...new Set(found.values())];
  const newProfiles: {
    workspaceId: string;
    id: string;
    externalId: string | null;
    createdAt: Date;
  }[] = [];
  const newAliases: {
    workspaceId: string;
    aliasLabel: string;
    aliasName: string;
    profileId: string;
  }[] = [];
  for (const [key, ref] of refs) {
    if (found.has(key)) continue;
    const id = uuidv7(now.getTime());
    found.set(key, id);
    if (ref.kind === 'externalId') {
      newProfiles.push({ workspaceId, id, externalId: ref.externalId, createdAt: now });
    } else if (ref.kind === 'alias') {
      newProfiles.push({ workspaceId, id, externalId: null, createdAt: now });
      newAliases.push({
        workspaceId,
        aliasLabel: ref.aliasLabel,
        aliasName: ref.aliasName,
        profileId: id,
      });
    }
  }
  return {
    profileByKey: found,
    existing,
    suppressed,
    created: { profiles: newProfiles, aliases: newAliases },
  };
}

/** The users resolveOrCreate made up, as rows to insert. */
export interface CreatedUsers {
  readonly profiles: Parameters<TrackRepository['insertProfiles']>[1];
  readonly aliases: Parameters<TrackRepository['insertAliases']>[1];
}

/**
 * Inserts the users resolveOrCreate made up. Two requests creating the same user race here; the
 * loser's unique violation re-runs its transaction. Callers may send it together with writes
 * that refer to these profiles: statements of one transaction run in the order they were sent.
 */
export function insertCreated(repo: TrackRepository, tx: Tx, created: CreatedUsers) {
  return allInOrder([
    repo.insertProfiles(tx, created.profiles),
    repo.insertAliases(tx, created.aliases),
  ]);
}
