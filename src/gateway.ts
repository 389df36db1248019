/**
 * Wires the gateway from its parts: services over a database, the bootstrap of the first key,
 * and the HTTP server. main.ts calls it with the environment's config; tests call it with theirs.
 */
import type { Logger } from 'pino';

import { AuthService, type BootstrapResult } from './auth/auth-service.js';
import type { Config } from './config/config.js';
import type { Database } from './db/client.js';
import type { Services } from './http/context.js';
import { startHttpServer, type RunningServer } from './http/server.js';
import { AliasService } from './identity/alias-service.js';
import { IdentityService } from './identity/identity-service.js';
import { ProfileQueryService } from './identity/profile-query-service.js';
import { TrackService } from './identity/track-service.js';

export function createServices(database: Database, config: Config, clock?: () => Date): Services {
  const { db } = database;
  return {
    auth: new AuthService(db),
    profiles: new ProfileQueryService(db, clock),
    track: new TrackService(db, clock),
    aliases: new AliasService(db, config.limits.maxIdsPerProfile, clock),
    identity: new IdentityService(db, config.limits.maxIdsPerProfile, clock),
  };
}

export interface Gateway {
  readonly server: RunningServer;
  readonly services: Services;
  readonly bootstrap: BootstrapResult;
  stop(): Promise<void>;
}

/** Starts serving on an already opened and migrated database; stop() leaves the database open. */
export async function startGateway(
  config: Config,
  database: Database,
  logger: Logger,
): Promise<Gateway> {
  const services = createServices(database, config);
  const bootstrap = await services.auth.bootstrap(config);
  const server = await startHttpServer({ http: config.http, database, services, logger });
  return { server, services, bootstrap, stop: () => server.stop() };
}
