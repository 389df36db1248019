/**
 * trackUsers: records attributes and activity for users named by external id, alias or anon id,
 * creating the users that do not exist yet, all in one transaction.
 */
import type { Db, Tx } from '../db/client.js';
import { inTransaction, RaceLostError } from '../db/transaction.js';
import { uuidv7 } from '../lib/uuid.js';
import { identifierKey, type IdentifierRef } from './engine/identifiers.js';
import { TrackRepository } from './store/track-repository.js';
import { aggregateTrack, firstDayOfWindow } from './track-aggregate.js';
import { validateTrack, type Located, type TrackUsersRequest } from './track-input.js';

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
  readonly message: string;
}

export class TrackService {
  private readonly repo = new TrackRepository();

  constructor(
    private readonly db: Db,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async track(scope: WorkspaceScope, request: TrackUsersRequest): Promise<TrackUsersResult> {
    const now = this.clock();
    const valid = validateTrack(request, scope.anonIdLabel, now);
    const all: Located<unknown>[] = [
      ...valid.attributes,
      ...valid.events,
      ...valid.purchases,
      ...valid.sessions,
      ...valid.pushTokens,
    ];
    const refs = new Map<string, IdentifierRef>(all.map((l) => [identifierKey(l.user), l.user]));

    await inTransaction(this.db, async (tx) => {
      const profileByKey = await resolveOrCreate(this.repo, tx, scope.workspaceId, refs, now);
      const profileOf = (l: Located<unknown>) => profileByKey.get(identifierKey(l.user))!;
      const writes = aggregateTrack(valid, profileOf, now);
      const ws = scope.workspaceId;
      // Independent of one another (each table once; the two profile updates set different
      // columns): sent together, one round trip.
      await Promise.all([
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
        this.repo.touchProfiles(tx, ws, [...new Set(profileByKey.values())], now),
      ]);
    });

    return {
      attributesProcessed: valid.attributes.length,
      eventsProcessed: valid.events.length,
      purchasesProcessed: valid.purchases.length,
      sessionsProcessed: valid.sessions.length,
      pushTokensProcessed: valid.pushTokens.length,
      message: 'success',
    };
  }
}

/**
 * Maps each identifier to its live profile, creating the users that do not exist: an identified
 * profile for an unknown external id, an alias-only or anonymous one for an unknown alias.
 * Identifiers are share-locked (identifyUsers takes them exclusively) and the profiles row-locked
 * in id order, so a merge cannot move them away until this transaction ends.
 */
export async function resolveOrCreate(
  repo: TrackRepository,
  tx: Tx,
  workspaceId: string,
  refs: ReadonlyMap<string, IdentifierRef>,
  now: Date,
): Promise<Map<string, string>> {
  await repo.lockIdentifiers(tx, workspaceId, [...refs.keys()], 'shared');
  const externalIds: string[] = [];
  const pairs: { aliasLabel: string; aliasName: string }[] = [];
  for (const ref of refs.values()) {
    if (ref.kind === 'externalId') externalIds.push(ref.externalId);
    else if (ref.kind === 'alias') pairs.push(ref);
  }
  const found = new Map<string, string>();
  const [byExternalId, byAlias] = await Promise.all([
    repo.profilesByExternalIds(tx, workspaceId, externalIds),
    repo.aliasOwners(tx, workspaceId, pairs),
  ]);
  for (const p of byExternalId) {
    found.set(identifierKey({ kind: 'externalId', externalId: p.externalId }), p.id);
  }
  for (const a of byAlias) {
    found.set(identifierKey({ kind: 'alias', ...a }), a.profileId);
  }
  // A profile merged away after we resolved it: start over and resolve again.
  if ((await repo.lockProfiles(tx, workspaceId, [...new Set(found.values())])).length > 0) {
    throw new RaceLostError('a profile was merged while it was being tracked');
  }

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
  // Two requests creating the same user race here; the loser's unique violation re-runs it.
  await Promise.all([repo.insertProfiles(tx, newProfiles), repo.insertAliases(tx, newAliases)]);
  return found;
}
