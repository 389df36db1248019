/**
 * undoMerge: restores both profiles of a merge in one transaction, when nothing has touched the
 * survivor's merged fields since. Neither vendor can split a merged user, so the undo is recorded
 * for each configured vendor as a SKIPPED delivery that says so.
 */
import { and, eq } from 'drizzle-orm';

import type { Db, Tx } from '../db/client.js';
import { inTransaction } from '../db/transaction.js';
import { AppError, badInput } from '../lib/app-error.js';
import { isUuid, uuidv7 } from '../lib/uuid.js';
import { recordUnsupportedChange } from '../outbox/enqueue.js';
import { identifierKey, profileIdentifierKeys } from './engine/identifiers.js';
import type { ProfileState } from './engine/model.js';
import { planUndo } from './engine/plan-undo.js';
import { runTogether, stateWrites } from './store/state-writer.js';
import { IdentityRepository } from './store/identity-repository.js';
import { merges } from './store/journal.sql.js';
import { MERGE_COLUMNS, type MergeRow } from './store/merge-repository.js';
import { TrackRepository } from './store/track-repository.js';
import type { WorkspaceScope } from './track-service.js';
import { notifyChanges } from '../live/changes.js';

const VENDOR_CANNOT_UNDO = {
  MIXPANEL: 'Mixpanel cannot split an identity cluster; the undo is recorded in the gateway only',
  BRAZE: 'Braze cannot split a merged user; the undo is recorded in the gateway only',
} as const;

export class UndoService {
  private readonly repo = new IdentityRepository();
  private readonly locks = new TrackRepository();

  constructor(
    private readonly db: Db,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async undo(scope: WorkspaceScope, mergeId: string): Promise<MergeRow> {
    if (!isUuid(mergeId)) throw badInput([{ path: 'id', message: 'is not a merge id' }]);
    const ws = scope.workspaceId;
    return inTransaction(this.db, async (tx) => {
      const now = this.clock();
      const merge = await this.lockMerge(tx, ws, mergeId);
      const survivorBefore = reviveProfile(merge.survivorBefore);
      const absorbedBefore = reviveProfile(merge.absorbedBefore);
      // Every identifier that moves, exclusively, as identifyUsers locks them: the absorbed
      // profile's (kept whole in the journal) go back to it, so a tracking or identification
      // naming one waits for this undo and then finds the profile that holds it. The survivor's
      // own identifiers stay where they are (the journal keeps only what the merge changed).
      await this.locks.lockIdentifiers(
        tx,
        ws,
        [
          identifierKey({ kind: 'externalId', externalId: merge.externalId }),
          ...profileIdentifierKeys(survivorBefore),
          ...profileIdentifierKeys(absorbedBefore),
        ],
        'exclusive',
      );
      const rows = await this.repo.lockProfiles(tx, ws, [merge.survivorId, merge.absorbedId]);
      const states = await this.repo.loadStates(tx, ws, rows);
      const survivor = states.find((s) => s.id === merge.survivorId);
      const absorbed = states.find((s) => s.id === merge.absorbedId);
      if (!survivor || survivor.mergedInto !== null || absorbed?.mergedInto !== merge.survivorId) {
        throw new AppError(
          'CONFLICT',
          'the profiles of this merge have been merged or changed since; it cannot be undone',
        );
      }
      const plan = planUndo(
        {
          behavior: merge.behavior,
          survivorBefore,
          absorbedBefore,
          changedFields: merge.changedFields,
        },
        survivor,
        now,
      );
      if (plan.kind === 'conflict') {
        throw new AppError(
          'CONFLICT',
          `these merged fields changed since the merge: ${plan.fields.join(', ')}`,
          {
            fields: plan.fields,
          },
        );
      }
      await runTogether(tx, stateWrites(ws, states, [plan.survivor, plan.absorbed]));
      const [undone] = await tx
        .update(merges)
        .set({ undoneAt: now })
        .where(and(eq(merges.workspaceId, ws), eq(merges.id, mergeId)))
        .returning(MERGE_COLUMNS);
      await recordUnsupportedChange(
        tx,
        { workspaceId: ws, now },
        {
          changeId: mergeId,
          profileId: merge.survivorId,
          type: 'identity.merge_undone.v1',
          reasons: VENDOR_CANNOT_UNDO,
          id: uuidv7(now.getTime()),
        },
      );
      await notifyChanges(tx, {
        workspaceId: ws,
        profiles: [merge.survivorId, merge.absorbedId],
        merges: [],
        forgotten: [],
      });
      return undone;
    });
  }

  private async lockMerge(tx: Tx, ws: string, id: string): Promise<typeof merges.$inferSelect> {
    const [row] = await tx
      .select()
      .from(merges)
      .where(and(eq(merges.workspaceId, ws), eq(merges.id, id)))
      .for('update');
    if (!row) throw new AppError('NOT_FOUND', `no merge ${id} in this workspace`);
    if (row.undoneAt)
      throw new AppError('CONFLICT', `merge ${id} was undone at ${row.undoneAt.toISOString()}`);
    return row;
  }
}

/** A profile state as the journal stored it (JSON), with its dates back as dates. */
export function reviveProfile(json: Record<string, unknown>): ProfileState {
  const p = json as unknown as ProfileState & Record<string, unknown>;
  const date = (v: unknown) => (v == null ? null : new Date(v as string));
  return {
    ...p,
    firstSessionAt: date(p.firstSessionAt),
    lastSessionAt: date(p.lastSessionAt),
    createdAt: new Date(p.createdAt),
    updatedAt: new Date(p.updatedAt),
    events: p.events.map((e) => ({
      ...e,
      firstAt: new Date(e.firstAt),
      lastAt: new Date(e.lastAt),
    })),
    purchases: p.purchases
      ? {
          ...p.purchases,
          firstAt: new Date(p.purchases.firstAt),
          lastAt: new Date(p.purchases.lastAt),
        }
      : null,
    apps: p.apps.map((a) => ({
      ...a,
      firstSessionAt: new Date(a.firstSessionAt),
      lastSessionAt: new Date(a.lastSessionAt),
    })),
  };
}
