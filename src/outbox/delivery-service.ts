/** Deliveries as the API shows them: pages, the deliveries of a change, and requeueing. */
import DataLoader from 'dataloader';

import type { Db } from '../db/client.js';
import { AppError, badInput } from '../lib/app-error.js';
import { badCursor, checkCursor, checkFirst, toPage, type Page } from '../lib/paging.js';
import { OutboxRepository, type DeliveryFilter, type OutboxRow } from './outbox-repository.js';

export type { OutboxRow } from './outbox-repository.js';

export const MAX_RETRY_IDS = 100;

export type DeliveryPage = Page<OutboxRow>;

export class DeliveryService {
  private readonly repo: OutboxRepository;

  constructor(
    private readonly db: Db,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.repo = new OutboxRepository(db);
  }

  /** Newest first. */
  async list(
    workspaceId: string,
    filter: DeliveryFilter,
    first: number,
    after: string | null,
  ): Promise<DeliveryPage> {
    checkFirst(first);
    let beforeId: number | null = null;
    if (after != null) {
      const [value] = checkCursor(after, 1);
      if (!/^\d{1,15}$/.test(value)) throw badCursor();
      beforeId = Number(value);
    }
    const rows = await this.repo.list(workspaceId, filter, beforeId, first + 1);
    return toPage(
      rows,
      { first, after },
      (row) => [String(row.id)],
      () => this.repo.count(workspaceId, filter),
    );
  }

  /** The deliveries of many changes, one query per request. */
  createLoader(workspaceId: string): DataLoader<string, OutboxRow[]> {
    return new DataLoader(async (changeIds) => {
      const rows = await this.repo.byChangeIds(workspaceId, changeIds);
      return changeIds.map((id) => rows.filter((r) => r.changeId === id));
    });
  }

  /**
   * Makes DEAD (and RETRYING) deliveries due now with a fresh attempt budget; other statuses are
   * returned as they are. Unknown ids are NOT_FOUND and nothing is changed.
   */
  async retry(workspaceId: string, ids: readonly string[]): Promise<OutboxRow[]> {
    if (ids.length === 0 || ids.length > MAX_RETRY_IDS) {
      throw badInput([
        { path: 'ids', message: `give between 1 and ${MAX_RETRY_IDS} delivery ids` },
      ]);
    }
    const bad = ids.filter((id) => !/^\d{1,15}$/.test(id));
    if (bad.length > 0)
      throw badInput([{ path: 'ids', message: `not delivery ids: ${bad.slice(0, 5).join(', ')}` }]);
    const wanted = [...new Set(ids.map(Number))];
    return this.db.transaction(async (tx) => {
      const rows = await this.repo.requeue(tx, workspaceId, wanted, this.clock());
      if (rows.length !== wanted.length) {
        const found = new Set(rows.map((r) => r.id));
        const missing = wanted.filter((id) => !found.has(id));
        // Throwing rolls the requeue back: unknown ids change nothing.
        throw new AppError('NOT_FOUND', `no deliveries with ids ${missing.slice(0, 5).join(', ')}`);
      }
      return rows;
    });
  }
}
