/**
 * Reads of the merge journal, of what the API shows: never the prior states kept for undoMerge
 * (two whole profiles per merge), which only the undo reads.
 */
import { and, desc, eq, getTableColumns, lt, or, sql, type SQL } from 'drizzle-orm';

import type { Db } from '../../db/client.js';
import { count } from 'drizzle-orm';
import { merges } from './journal.sql.js';

const {
  survivorBefore: _survivorBefore,
  absorbedBefore: _absorbedBefore,
  ...shown
} = getTableColumns(merges);
/** The journal's columns the API reads. */
export const MERGE_COLUMNS = shown;

export type MergeRow = Omit<typeof merges.$inferSelect, 'survivorBefore' | 'absorbedBefore'>;

const ws = sql.placeholder('ws');

export class MergeRepository {
  private readonly byIds;
  private readonly bySurvivors;

  constructor(private readonly db: Db) {
    const ids = sql.placeholder('ids');
    this.byIds = db
      .select(MERGE_COLUMNS)
      .from(merges)
      .where(and(eq(merges.workspaceId, ws), sql`${merges.id} = any(${ids}::uuid[])`))
      .prepare('merges_by_ids');
    this.bySurvivors = db
      .select(MERGE_COLUMNS)
      .from(merges)
      .where(and(eq(merges.workspaceId, ws), sql`${merges.survivorId} = any(${ids}::uuid[])`))
      .orderBy(desc(merges.id))
      .prepare('merges_by_survivors');
  }

  findByIds(workspaceId: string, ids: readonly string[]): Promise<MergeRow[]> {
    return this.byIds.execute({ ws: workspaceId, ids: [...ids] });
  }

  findBySurvivors(workspaceId: string, ids: readonly string[]): Promise<MergeRow[]> {
    return this.bySurvivors.execute({ ws: workspaceId, ids: [...ids] });
  }

  /** Newest first; with a profile, the merges it survived or was absorbed in. */
  list(
    workspaceId: string,
    profileId: string | null,
    beforeId: string | null,
    limit: number,
  ): Promise<MergeRow[]> {
    return this.db
      .select(MERGE_COLUMNS)
      .from(merges)
      .where(
        and(this.filter(workspaceId, profileId), beforeId ? lt(merges.id, beforeId) : undefined),
      )
      .orderBy(desc(merges.id))
      .limit(limit);
  }

  async count(workspaceId: string, profileId: string | null): Promise<number> {
    const [row] = await this.db
      .select({ n: count() })
      .from(merges)
      .where(this.filter(workspaceId, profileId));
    return row?.n ?? 0;
  }

  private filter(workspaceId: string, profileId: string | null): SQL | undefined {
    return and(
      eq(merges.workspaceId, workspaceId),
      profileId
        ? or(eq(merges.survivorId, profileId), eq(merges.absorbedId, profileId))
        : undefined,
    );
  }
}
