/**
 * Profile as an Apollo Federation entity: another subgraph names a profile by `id` or by
 * `externalId`, and the router asks this one to resolve it (`_entities`). Resolved in the
 * caller's workspace only, under its key's scopes, through the request's DataLoaders: a hundred
 * references cost one statement per kind of key (and one more for merged-away ids).
 */
import { requireScope } from '../../auth/scopes.js';
import type { GatewayContext } from '../../http/context.js';
import { isUuid } from '../../lib/uuid.js';
import type { ProfileRow } from '../profile-query-service.js';

export async function resolveProfileReference(
  reference: { id?: unknown; externalId?: unknown },
  ctx: GatewayContext,
): Promise<ProfileRow | null> {
  requireScope(ctx.principal.scopes, 'profiles:read');
  const loaders = ctx.loaders;
  let found: ProfileRow | null = null;
  if (typeof reference.id === 'string') {
    // An id that is not a UUID names no profile (and must not reach a uuid cast).
    if (!isUuid(reference.id)) return null;
    found = await loaders.profile.load(reference.id.toLowerCase());
    // A profile merged away is answered by the one it was merged into.
    if (found?.mergedInto) found = await loaders.profile.load(found.mergedInto);
  } else if (typeof reference.externalId === 'string') {
    found = await loaders.profileByExternalId.load(reference.externalId);
  }
  return found && found.mergedInto === null ? found : null;
}
