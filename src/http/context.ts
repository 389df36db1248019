/** What every resolver gets: who is calling, in which workspace, and the services to call. */
import type DataLoader from 'dataloader';

import type { AuthService, Principal } from '../auth/auth-service.js';
import type { ErasureService } from '../erasure/erasure-service.js';
import type { AliasService } from '../identity/alias-service.js';
import type { IdentityService } from '../identity/identity-service.js';
import type { UndoService } from '../identity/undo-service.js';
import type { ProfileLoaders, ProfileQueryService } from '../identity/profile-query-service.js';
import type { TrackService, WorkspaceScope } from '../identity/track-service.js';
import type { DeliveryService, OutboxRow } from '../outbox/delivery-service.js';
import type { LiveHub } from '../live/changes.js';

export interface Services {
  /** Committed changes as they happen, for subscriptions. */
  readonly live: LiveHub;
  readonly auth: AuthService;
  readonly profiles: ProfileQueryService;
  readonly track: TrackService;
  readonly aliases: AliasService;
  readonly identity: IdentityService;
  readonly deliveries: DeliveryService;
  readonly undo: UndoService;
  readonly erasure: ErasureService;
}

export type Loaders = ProfileLoaders & {
  /** Deliveries by change id (a merge id, or the id of an identification). */
  readonly deliveries: DataLoader<string, OutboxRow[]>;
};

/** Fresh loaders for one request (or one event of a subscription): their caches start empty. */
export function createLoaders(services: Services, workspaceId: string): Loaders {
  return {
    ...services.profiles.createLoaders(workspaceId),
    deliveries: services.deliveries.createLoader(workspaceId),
  };
}

export interface GatewayContext {
  readonly requestId: string;
  readonly principal: Principal;
  readonly scope: WorkspaceScope;
  readonly services: Services;
  readonly loaders: Loaders;
}

/** The context of one request (or one subscription) made by `principal`, in its workspace. */
export function contextOf(
  services: Services,
  principal: Principal,
  requestId: string,
): GatewayContext {
  return {
    requestId,
    principal,
    scope: { workspaceId: principal.workspaceId, anonIdLabel: principal.anonIdLabel },
    services,
    loaders: createLoaders(services, principal.workspaceId),
  };
}
