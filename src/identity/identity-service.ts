/**
 * identifyUsers: one transaction per request. Lock the identifiers it names (in a fixed order),
 * find and row-lock the profiles holding them, run the pure engine once, write the plan and its
 * journal, and hand the change list to the outbox in the same transaction. A request that lost a
 * race re-loads and re-plans from the start.
 */
import { createHash } from 'node:crypto';

import type { Db } from '../db/client.js';
import { allInOrder, inTransaction, RaceLostError } from '../db/transaction.js';
import type { SuppressionList } from '../erasure/suppression.js';
import { conflict } from '../lib/app-error.js';
import { uuidv7 } from '../lib/uuid.js';
import { configuredVendors, enqueueIdentityChanges } from '../outbox/enqueue.js';
import { identifierKey, normalizeEmail, type IdentifierRef } from './engine/identifiers.js';
import type { ItemResult } from './engine/model.js';
import { identifiersOf, planIdentify } from './engine/plan-identify.js';
import {
  validateIdentify,
  type IdentifyUsersRequest,
  type ValidIdentify,
} from './identify-input.js';
import { IdentityRepository, type IdentifierSets } from './store/identity-repository.js';
import { runTogether, stateWrites } from './store/state-writer.js';
import { TrackRepository } from './store/track-repository.js';
import { firstDayOfWindow } from './track-aggregate.js';
import type { WorkspaceScope } from './track-service.js';
import { notifyChanges } from '../live/changes.js';

/** An item's result, with the id its vendor deliveries are filed under (null when no change). */
export type IdentifyItemResult = ItemResult & { readonly changeId: string | null };

export interface IdentifyUsersResult {
  readonly aliasesProcessed: number;
  readonly message: string;
  readonly dryRun: boolean;
  readonly results: readonly IdentifyItemResult[];
}

export class IdentityService {
  private readonly repo = new IdentityRepository();
  private readonly locks = new TrackRepository();

  constructor(
    private readonly db: Db,
    private readonly maxIdsPerProfile: number,
    private readonly suppressions: SuppressionList,
    private readonly clock: () => Date = () => new Date(),
    /** Told the results of every request that committed (metrics, the local dispatcher). */
    private readonly observe: (
      results: readonly IdentifyItemResult[],
      scope: WorkspaceScope,
    ) => void = () => {},
    /** How long an idempotency key answers repeats (IDEMPOTENCY_TTL_HOURS). */
    private readonly idempotencyTtlMs = 86_400_000,
  ) {}

  async identify(
    scope: WorkspaceScope,
    request: IdentifyUsersRequest,
  ): Promise<IdentifyUsersResult> {
    const payload = await this.run(scope, request);
    this.observe(payload.results, scope);
    return payload;
  }

  private run(scope: WorkspaceScope, request: IdentifyUsersRequest): Promise<IdentifyUsersResult> {
    const valid = validateIdentify(request);
    const requestHash = hashRequest(valid);
    return inTransaction(this.db, async (tx) => {
      const now = this.clock();
      const ws = scope.workspaceId;
      const refs = valid.items.flatMap((item) => identifiersOf(item, scope.anonIdLabel));
      const named = refs.map(identifierKey);
      const keys = [...named];
      if (valid.idempotencyKey !== null && !valid.dryRun)
        keys.push(`i\u0001${valid.idempotencyKey}`);
      // The reads must come after the locks, in statements of their own (a statement's snapshot
      // is taken when it starts). Statements of a transaction run in the order they were sent,
      // so the locks and the reads go out together, in one round trip.
      const idempotent = valid.idempotencyKey !== null && !valid.dryRun;
      const [, stored, rows, vendors, forgotten] = await allInOrder([
        this.locks.lockIdentifiers(tx, ws, keys, 'exclusive'),
        idempotent ? this.repo.findIdempotent(tx, ws, valid.idempotencyKey) : null,
        this.repo.lockProfilesHolding(tx, ws, identifierSets(refs)),
        valid.dryRun ? null : configuredVendors(tx, ws),
        this.suppressions.suppressed(tx, ws, named),
      ]);
      // A key older than its time to live is forgotten: the request runs as a new one.
      if (stored && stored.createdAt.getTime() > now.getTime() - this.idempotencyTtlMs) {
        if (stored.requestHash !== requestHash || stored.operation !== 'identifyUsers') {
          throw conflict('idempotencyKey was used before with a different request');
        }
        return stored.result as IdentifyUsersResult;
      }
      if (rows.some((r) => r.mergedInto !== null)) {
        throw new RaceLostError('a profile was merged while this request waited for it');
      }
      const snapshot = await this.repo.loadStates(tx, ws, rows);
      const plan = planIdentify(
        { items: valid.items, mergeBehavior: valid.mergeBehavior, forgotten },
        {
          anonIdLabel: scope.anonIdLabel,
          maxIdsPerProfile: this.maxIdsPerProfile,
          profiles: snapshot,
        },
        { now, newId: () => uuidv7(now.getTime()) },
      );
      // Every change gets an id to file its deliveries under: the merge id, or a new one.
      const changes = plan.changes.map((c) => ({
        ...c,
        changeId: c.mergeId ?? uuidv7(now.getTime()),
      }));
      const changeIdOf = new Map(changes.map((c) => [c.index, c.changeId]));
      const result: IdentifyUsersResult = {
        aliasesProcessed: plan.results.filter((r) =>
          ['MERGED', 'IDENTIFIED', 'UNCHANGED'].includes(r.outcome),
        ).length,
        message: 'success',
        dryRun: valid.dryRun,
        results: plan.results.map((r) => ({
          ...r,
          changeId: valid.dryRun ? null : (changeIdOf.get(r.index) ?? null),
        })),
      };
      if (valid.dryRun) return result;

      // Every write at once: one round trip for all of them (see state-writer.ts).
      await allInOrder([
        runTogether(tx, stateWrites(ws, snapshot, plan.changed)),
        this.repo.repointTombstones(
          tx,
          ws,
          plan.merges.map((m) => ({ from: m.absorbedId, to: m.survivorId })),
        ),
        this.repo.insertMerges(tx, ws, plan.merges, now),
        this.locks.pruneDailyCounts(
          tx,
          ws,
          plan.changed.map((p) => p.id),
          firstDayOfWindow(now),
        ),
        enqueueIdentityChanges(
          tx,
          { workspaceId: ws, anonIdLabel: scope.anonIdLabel, now, vendors: vendors! },
          changes,
        ),
        notifyChanges(tx, {
          workspaceId: ws,
          profiles: plan.changed.filter((p) => p.mergedInto === null).map((p) => p.id),
          merges: plan.merges.map((m) => ({
            id: m.id,
            absorbedId: m.absorbedId,
            survivorId: m.survivorId,
          })),
          forgotten: [],
        }),
        valid.idempotencyKey === null
          ? null
          : this.repo.saveIdempotent(tx, {
              workspaceId: ws,
              key: valid.idempotencyKey,
              operation: 'identifyUsers',
              requestHash,
              result,
              createdAt: now,
            }),
      ]);
      return result;
    });
  }
}

function identifierSets(refs: readonly IdentifierRef[]): IdentifierSets {
  const sets = {
    externalIds: [] as string[],
    aliases: [] as { aliasLabel: string; aliasName: string }[],
    emails: [] as string[],
  };
  for (const ref of refs) {
    if (ref.kind === 'externalId') sets.externalIds.push(ref.externalId);
    else if (ref.kind === 'alias') {
      sets.aliases.push({ aliasLabel: ref.aliasLabel, aliasName: ref.aliasName });
    } else sets.emails.push(normalizeEmail(ref.email));
  }
  return sets;
}

/** Two requests are the same when they name the same items with the same options. */
function hashRequest(valid: ValidIdentify): string {
  const canonical = JSON.stringify({ items: valid.items, mergeBehavior: valid.mergeBehavior });
  return createHash('sha256').update(canonical).digest('hex');
}
