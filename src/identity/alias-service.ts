/**
 * createAliases (Braze /users/alias/new): adds aliases to the profile that holds an external id,
 * or creates an alias-only profile for each alias sent without one. Re-sending an alias that is
 * already in place changes nothing; an alias that belongs to another profile is a CONFLICT.
 */
import type { Db } from '../db/client.js';
import { allInOrder, inTransaction } from '../db/transaction.js';
import type { SuppressionList } from '../erasure/suppression.js';
import { AppError, badInput, conflict, type InputProblem } from '../lib/app-error.js';
import { uuidv7 } from '../lib/uuid.js';
import { identifierKey, type IdentifierRef } from './engine/identifiers.js';
import { TrackRepository } from './store/track-repository.js';
import { insertCreated, resolveOrCreate, type WorkspaceScope } from './track-service.js';
import { resolveUserRef } from './user-ref.js';
import { notifyChanges } from '../live/changes.js';

export const MAX_ALIASES_PER_REQUEST = 50;

export interface NewAliasValue {
  readonly aliasName: string;
  readonly aliasLabel: string;
  readonly externalId?: string | null;
}

export interface CreatedAlias {
  readonly aliasLabel: string;
  readonly aliasName: string;
  readonly profileId: string;
}

/** An alias refused on its own: it, or the user it was for, was forgotten. */
export interface RejectedAlias {
  readonly index: number;
  readonly reason: 'FORGOTTEN';
}

export interface CreateAliasesResult {
  /** The aliases as stored, in input order (refused ones left out). */
  readonly aliases: CreatedAlias[];
  readonly rejected: RejectedAlias[];
}

interface Wanted {
  /** Where it stands in the input. */
  readonly index: number;
  readonly alias: { aliasLabel: string; aliasName: string };
  readonly owner: IdentifierRef | null;
}

export class AliasService {
  private readonly repo = new TrackRepository();

  constructor(
    private readonly db: Db,
    private readonly maxIdsPerProfile: number,
    private readonly suppressions: SuppressionList,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async createAliases(
    scope: WorkspaceScope,
    input: readonly NewAliasValue[],
  ): Promise<CreateAliasesResult> {
    const wanted = validate(input, scope.anonIdLabel);
    const now = this.clock();
    const ws = scope.workspaceId;
    return inTransaction(this.db, async (tx) => {
      const aliasKeys = wanted.map((w) => identifierKey({ kind: 'alias', ...w.alias }));
      await this.repo.lockIdentifiers(tx, ws, aliasKeys, 'exclusive');
      const owners = new Map<string, IdentifierRef>();
      for (const w of wanted) if (w.owner) owners.set(identifierKey(w.owner), w.owner);
      const [resolved, forgottenAliases, owned] = await allInOrder([
        resolveOrCreate(this.repo, tx, ws, owners, now, this.suppressions),
        this.suppressions.suppressed(tx, ws, aliasKeys),
        this.repo.aliasOwners(
          tx,
          ws,
          wanted.map((w) => w.alias),
        ),
      ]);
      await insertCreated(this.repo, tx, resolved.created);
      const ownerIds = resolved.profileByKey;
      const existing = new Map(
        owned.map((a) => [identifierKey({ kind: 'alias', ...a }), a.profileId]),
      );

      const created: CreatedAlias[] = [];
      const rejected: RejectedAlias[] = [];
      const toInsert: CreatedAlias[] = [];
      const aliasOnly: string[] = [];
      for (const [i, w] of wanted.entries()) {
        const key = aliasKeys[i];
        if (
          forgottenAliases.has(key) ||
          (w.owner !== null && resolved.suppressed.has(identifierKey(w.owner)))
        ) {
          rejected.push({ index: w.index, reason: 'FORGOTTEN' });
          continue;
        }
        const target = w.owner ? ownerIds.get(identifierKey(w.owner))! : null;
        const current = existing.get(key);
        if (current !== undefined) {
          if (target !== null && current !== target) {
            throw conflict(
              `input.userAliases[${i}]: alias ${w.alias.aliasLabel}/${w.alias.aliasName} already belongs to another profile`,
            );
          }
          created.push({ ...w.alias, profileId: current });
          continue;
        }
        const profileId = target ?? uuidv7(now.getTime());
        if (target === null) aliasOnly.push(profileId);
        const row = { ...w.alias, profileId };
        toInsert.push(row);
        created.push(row);
        existing.set(key, profileId);
      }

      await this.checkIdentifierLimit(tx, ws, toInsert);
      await this.repo.insertProfiles(
        tx,
        aliasOnly.map((id) => ({ workspaceId: ws, id, externalId: null, createdAt: now })),
      );
      await this.repo.insertAliases(
        tx,
        toInsert.map((a) => ({ workspaceId: ws, ...a })),
      );
      const changed = [...new Set(toInsert.map((a) => a.profileId))];
      await allInOrder([
        this.repo.touchProfiles(tx, ws, changed, now),
        notifyChanges(tx, { workspaceId: ws, profiles: changed, merges: [], forgotten: [] }),
      ]);
      return { aliases: created, rejected };
    });
  }

  private async checkIdentifierLimit(
    tx: Parameters<TrackRepository['countIdentifiers']>[0],
    ws: string,
    toInsert: readonly CreatedAlias[],
  ): Promise<void> {
    const adding = new Map<string, number>();
    for (const a of toInsert) adding.set(a.profileId, (adding.get(a.profileId) ?? 0) + 1);
    const counts = await this.repo.countIdentifiers(tx, ws, [...adding.keys()]);
    for (const [profileId, n] of adding) {
      if ((counts.get(profileId) ?? 0) + n > this.maxIdsPerProfile) {
        throw new AppError(
          'BAD_USER_INPUT',
          `profile ${profileId} would hold more than ${this.maxIdsPerProfile} identifiers (MAX_IDS_PER_PROFILE)`,
        );
      }
    }
  }
}

function validate(input: readonly NewAliasValue[], anonIdLabel: string): Wanted[] {
  const problems: InputProblem[] = [];
  if (input.length === 0)
    problems.push({ path: 'input.userAliases', message: 'must not be empty' });
  if (input.length > MAX_ALIASES_PER_REQUEST) {
    problems.push({
      path: 'input.userAliases',
      message: `at most ${MAX_ALIASES_PER_REQUEST} aliases per request`,
    });
  }
  const wanted: Wanted[] = [];
  const seen = new Map<string, string>();
  input.slice(0, MAX_ALIASES_PER_REQUEST).forEach((a, i) => {
    const path = `input.userAliases[${i}]`;
    const alias = resolveUserRef({ userAlias: a }, path, anonIdLabel, problems);
    const owner =
      a.externalId != null
        ? resolveUserRef({ externalId: a.externalId }, path, anonIdLabel, problems)
        : null;
    if (!alias || alias.kind !== 'alias' || (a.externalId != null && !owner)) return;
    const key = identifierKey(alias);
    const ownerKey = owner ? identifierKey(owner) : '';
    if (seen.has(key) && seen.get(key) !== ownerKey) {
      problems.push({ path, message: 'the same alias is given twice for different users' });
      return;
    }
    if (seen.has(key)) return;
    seen.set(key, ownerKey);
    wanted.push({
      index: i,
      alias: { aliasLabel: alias.aliasLabel, aliasName: alias.aliasName },
      owner,
    });
  });
  if (problems.length > 0) throw badInput(problems);
  return wanted;
}
