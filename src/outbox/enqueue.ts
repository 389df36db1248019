/**
 * The one place where identity changes become vendor deliveries, called inside the transaction
 * that commits them, so a change and its deliveries commit or roll back together.
 */
import type { Tx } from '../db/client.js';
import type { IdentityChange } from '../identity/engine/model.js';

export interface EnqueueContext {
  readonly workspaceId: string;
  readonly now: Date;
}

/**
 * Records the deliveries for a committed set of identity changes. No vendor delivery is
 * configured in this version, so there is nothing to write yet.
 */
export function enqueueIdentityChanges(
  _tx: Tx,
  _ctx: EnqueueContext,
  _changes: readonly IdentityChange[],
): Promise<number> {
  return Promise.resolve(0);
}
