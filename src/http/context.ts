/** What every resolver gets: who is calling, in which workspace, and the services to call. */
import type { AuthService, Principal } from '../auth/auth-service.js';
import type { AliasService } from '../identity/alias-service.js';
import type { IdentityService } from '../identity/identity-service.js';
import type { ProfileLoaders, ProfileQueryService } from '../identity/profile-query-service.js';
import type { TrackService, WorkspaceScope } from '../identity/track-service.js';

export interface Services {
  readonly auth: AuthService;
  readonly profiles: ProfileQueryService;
  readonly track: TrackService;
  readonly aliases: AliasService;
  readonly identity: IdentityService;
}

export interface GatewayContext {
  readonly requestId: string;
  readonly principal: Principal;
  readonly scope: WorkspaceScope;
  readonly services: Services;
  readonly loaders: ProfileLoaders;
}
