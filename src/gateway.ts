/**
 * Wires the gateway from its parts: services over a database, the bootstrap of the first key,
 * and the HTTP server. main.ts calls it with the environment's config; tests call it with theirs.
 */
import type { Logger } from 'pino';

import { AuthService, type BootstrapResult } from './auth/auth-service.js';
import type { Config } from './config/config.js';
import type { Database } from './db/client.js';
import { ErasureService } from './erasure/erasure-service.js';
import { SuppressionList } from './erasure/suppression.js';
import type { Services } from './http/context.js';
import { Metrics } from './http/metrics.js';
import { LiveHub } from './live/changes.js';
import { startHttpServer, type RunningServer } from './http/server.js';
import { AliasService } from './identity/alias-service.js';
import { IdentityService } from './identity/identity-service.js';
import { ProfileQueryService } from './identity/profile-query-service.js';
import { TrackService } from './identity/track-service.js';
import { deleteExpiredIdempotencyKeys } from './identity/store/idempotency-retention.js';
import { UndoService } from './identity/undo-service.js';
import { DeliveryService } from './outbox/delivery-service.js';
import {
  Dispatcher,
  DEFAULT_DISPATCHER_OPTIONS,
  type DispatcherOptions,
} from './outbox/dispatcher.js';

export function createServices(
  database: Database,
  config: Config,
  clock?: () => Date,
  metrics?: Metrics,
  /** Told when a request committed deliveries for a workspace (wakes the local dispatcher). */
  queued: (workspaceId: string) => void = () => {},
): Services {
  const { db } = database;
  const profiles = new ProfileQueryService(db, clock, database.reads);
  const suppressions = new SuppressionList();
  return {
    live: new LiveHub(database),
    auth: new AuthService(db, config.auth.keyCacheMs),
    profiles,
    track: new TrackService(db, suppressions, clock),
    aliases: new AliasService(db, config.limits.maxIdsPerProfile, suppressions, clock),
    identity: new IdentityService(
      db,
      config.limits.maxIdsPerProfile,
      suppressions,
      clock,
      (results, scope) => {
        for (const r of results) metrics?.identifyOutcomes.inc({ outcome: r.outcome });
        if (results.some((r) => r.changeId !== null)) queued(scope.workspaceId);
      },
      config.limits.idempotencyTtlMs,
    ),
    deliveries: new DeliveryService(db, clock),
    undo: new UndoService(db, clock),
    erasure: new ErasureService(db, profiles, {
      clock,
      queued,
      idempotencyTtlMs: config.limits.idempotencyTtlMs,
    }),
  };
}

export interface Gateway {
  readonly server: RunningServer;
  readonly services: Services;
  readonly bootstrap: BootstrapResult;
  /** Null when this process runs no dispatcher (OUTBOX_DISPATCHER=false). */
  readonly dispatcher: Dispatcher | null;
  stop(): Promise<void>;
}

export function dispatcherOptions(config: Config): DispatcherOptions {
  const o = config.outbox;
  return {
    ...DEFAULT_DISPATCHER_OPTIONS,
    batchSize: o.batchSize,
    pollMs: o.pollMs,
    leaseMs: o.leaseMs,
    backoffBaseMs: o.backoffBaseMs,
    maxAttempts: o.maxAttempts,
    maxAgeMs: o.maxAgeMs,
    requestTimeoutMs: o.requestTimeoutMs,
    brazeRequestsPerMinute: o.brazeRequestsPerMinute,
    workers: o.workers,
    requestsInFlight: o.requestsInFlight,
    retentionMs: o.retentionMs,
    deadRetentionMs: o.deadRetentionMs,
  };
}

/**
 * Starts serving on an already opened and migrated database, and the outbox dispatcher beside it.
 * stop() stops HTTP (in-flight requests finish), then the dispatcher (its claimed rows are
 * released); the database stays open.
 */
export async function startGateway(
  config: Config,
  database: Database,
  logger: Logger,
): Promise<Gateway> {
  const metrics = new Metrics(database.db);
  let dispatcher: Dispatcher | null = null;
  const services = createServices(database, config, undefined, metrics, (workspaceId) =>
    dispatcher?.nudge(workspaceId),
  );
  const bootstrap = await services.auth.bootstrap(config);
  const server = await startHttpServer({
    http: config.http,
    database,
    services,
    logger,
    metrics,
    cost: { maxIdsPerProfile: config.limits.maxIdsPerProfile },
  });
  dispatcher = config.outbox.dispatcher
    ? new Dispatcher(database.db, logger, dispatcherOptions(config), {
        observer: metrics.dispatcherObserver(),
        sweep: (workspaceId, now, limit) =>
          deleteExpiredIdempotencyKeys(
            database.db,
            workspaceId,
            new Date(now.getTime() - config.limits.idempotencyTtlMs),
            limit,
          ),
      })
    : null;
  dispatcher?.start();
  return {
    server,
    services,
    bootstrap,
    dispatcher,
    stop: async () => {
      await server.stop();
      await dispatcher?.stop();
      await services.live.close();
    },
  };
}
