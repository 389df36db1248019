/**
 * Reads the gateway's configuration from the environment: one zod model per concern, every bad
 * variable reported at once. The only module that looks at `process.env` is main.ts, which hands
 * it to loadConfig.
 */
import { z } from 'zod';

import { originProblem } from '../http/cors.js';

const optionalString = z
  .string()
  .trim()
  .transform((s) => (s === '' ? undefined : s))
  .optional();

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** Milliseconds, 0 for no limit, at most a day. */
const timeLimit = (fallback: number) =>
  z.coerce.number().int().min(0).max(86_400_000).default(fallback);

const urlString = z.string().trim().url();

/**
 * The embedded database's buffer cache (PostgreSQL's `shared_buffers`), in kB. PostgreSQL's own
 * default, 128 MB, is allocated and cleared inside the WebAssembly memory at every start: 16 MB
 * starts the gateway about a third of a second sooner and holds about 130 MB less, and the
 * benchmark's reads and writes on 10,000 profiles ran as fast (what misses it comes from the
 * operating system's file cache).
 */
export const DEFAULT_SHARED_BUFFERS_KB = 16 * 1024;

/** `16MB`, `512kB`, `1GB` (PostgreSQL's units) in kB; null when it is not such a size. */
function sizeInKb(value: string): number | null {
  const m = /^(\d{1,7})(kB|MB|GB)$/.exec(value);
  if (!m) return null;
  return Number(m[1]) * { kB: 1, MB: 1024, GB: 1024 * 1024 }[m[2] as 'kB' | 'MB' | 'GB'];
}

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  DATABASE_URL: optionalString.pipe(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
      .optional(),
  ),
  DATA_DIR: z.string().trim().min(1).default('./.data'),
  EMBEDDED_SHARED_BUFFERS: z
    .string()
    .trim()
    .default(`${DEFAULT_SHARED_BUFFERS_KB / 1024}MB`)
    .transform((value, ctx) => {
      const kb = sizeInKb(value);
      if (kb === null || kb < 128 || kb > 1024 * 1024) {
        ctx.addIssue({ code: 'custom', message: 'must be a size from 128kB to 1GB, e.g. 16MB' });
        return z.NEVER;
      }
      return kb;
    }),
  DATABASE_POOL_SIZE: positiveInt(10),
  DATABASE_READ_POOL_SIZE: positiveInt(2),
  DATABASE_STATEMENT_TIMEOUT_MS: timeLimit(30_000),
  DATABASE_LOCK_TIMEOUT_MS: timeLimit(10_000),
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: timeLimit(60_000),
  BOOTSTRAP_API_KEY: optionalString.pipe(
    z.string().min(24, 'must be at least 24 characters').optional(),
  ),
  MIXPANEL_TOKEN: optionalString,
  MIXPANEL_API_HOST: optionalString.pipe(urlString.optional()),
  MIXPANEL_ID_MERGE: z.enum(['ORIGINAL', 'SIMPLIFIED']).default('ORIGINAL'),
  MIXPANEL_SERVICE_ACCOUNT: optionalString.pipe(
    z
      .string()
      .regex(/^[^:]+:.+$/, 'must be user:secret')
      .optional(),
  ),
  MIXPANEL_PROJECT_ID: optionalString,
  MIXPANEL_GDPR_TOKEN: optionalString,
  MIXPANEL_GDPR_API_HOST: optionalString.pipe(urlString.optional()),
  BRAZE_API_KEY: optionalString,
  BRAZE_REST_ENDPOINT: optionalString.pipe(urlString.optional()),
  MAX_IDS_PER_PROFILE: positiveInt(500),
  RATE_LIMIT_PER_MINUTE: positiveInt(6000),
  AUTH_KEY_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(2000),
  IDEMPOTENCY_TTL_HOURS: z.coerce
    .number()
    .positive()
    .max(24 * 365)
    .default(24),
  MAX_BODY_BYTES: positiveInt(1024 * 1024),
  MAX_QUERY_DEPTH: positiveInt(15),
  MAX_QUERY_COST: positiveInt(50_000),
  MAX_QUERY_TOKENS: positiveInt(5_000),
  OUTBOX_DISPATCHER: optionalString.pipe(z.enum(['true', 'false']).optional()),
  OUTBOX_BATCH_SIZE: positiveInt(250),
  OUTBOX_POLL_MS: positiveInt(250),
  OUTBOX_LEASE_MS: positiveInt(120_000),
  OUTBOX_BACKOFF_BASE_MS: positiveInt(1_000),
  OUTBOX_MAX_ATTEMPTS: positiveInt(12),
  OUTBOX_MAX_AGE_MINUTES: positiveInt(24 * 60),
  VENDOR_TIMEOUT_MS: positiveInt(10_000),
  BRAZE_REQUESTS_PER_MINUTE: positiveInt(20_000),
  OUTBOX_WORKERS: positiveInt(3),
  OUTBOX_REQUESTS_IN_FLIGHT: positiveInt(4),
  OUTBOX_RETENTION_DAYS: z.coerce.number().positive().default(7),
  OUTBOX_DEAD_RETENTION_DAYS: z.coerce.number().positive().default(30),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  NODE_ENV: z.string().trim().default('development'),
  INTROSPECTION: optionalString.pipe(z.enum(['true', 'false']).optional()),
  SUBSCRIPTIONS_PER_CONNECTION: positiveInt(25),
  SUBSCRIPTIONS_PER_KEY: positiveInt(500),
  SUBSCRIPTION_QUEUE: positiveInt(100),
  WS_INIT_TIMEOUT_MS: positiveInt(5_000),
  /** Comma-separated exact origins; blanks around commas are ignored. */
  CORS_ORIGINS: z
    .string()
    .optional()
    .transform((v) =>
      (v ?? '')
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    )
    .superRefine((origins, ctx) => {
      for (const origin of origins) {
        const problem = originProblem(origin);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }
    }),
  PLAYGROUND: optionalString.pipe(z.enum(['true', 'false']).optional()),
});

const DAY_MS = 24 * 60 * 60 * 1000;

export const US_MIXPANEL_HOST = 'https://api.mixpanel.com';

/** PostgreSQL's time limits for a session, in milliseconds (0: none). */
export interface DatabaseTimeouts {
  /** Longest a statement may run, waiting for locks included (statement_timeout). */
  readonly statementMs: number;
  /** Longest a statement may wait for one lock, row or advisory (lock_timeout). */
  readonly lockMs: number;
  /** Longest a transaction may sit idle before the server ends the session. */
  readonly idleInTransactionMs: number;
}

export interface MixpanelSettings {
  readonly token: string;
  readonly apiHost: string;
  readonly idMerge: 'ORIGINAL' | 'SIMPLIFIED';
  readonly serviceAccount: string | null;
  readonly projectId: string | null;
  /**
   * OAuth token of Mixpanel's GDPR API: with it, forgetting a person also asks Mixpanel to delete
   * their events (a data deletion task). Settings stored before it existed lack it.
   */
  readonly gdprToken?: string | null;
  /** Host of the GDPR API; by default the residency host of `apiHost` (see mixpanelGdprHost). */
  readonly gdprApiHost?: string | null;
}

export interface BrazeSettings {
  readonly apiKey: string;
  readonly restEndpoint: string;
}

/** Limits of GraphQL subscriptions over WebSocket, per process. */
export interface SubscriptionLimits {
  /** Subscriptions one WebSocket may run at once. */
  readonly perConnection: number;
  /** Subscriptions one API key may run at once, over all its connections to this process. */
  readonly perKey: number;
  /** Events a subscription may have waiting to be sent; one more and it is dropped. */
  readonly queue: number;
  /** Time a new WebSocket has to send connection_init before it is closed (4408). */
  readonly initTimeoutMs: number;
}

export interface Config {
  readonly http: {
    readonly port: number;
    readonly host: string;
    readonly maxBodyBytes: number;
    readonly maxQueryDepth: number;
    readonly maxQueryCost: number;
    /** Most tokens the parser reads of one document before giving up on it. */
    readonly maxQueryTokens: number;
    readonly rateLimitPerMinute: number;
    readonly introspection: boolean;
    readonly playground: boolean;
    readonly production: boolean;
    /** Origins whose browser apps may call `/graphql` (CORS); empty for none. */
    readonly corsOrigins: readonly string[];
    readonly subscriptions: SubscriptionLimits;
  };
  readonly db: {
    readonly url: string | null;
    readonly dataDir: string;
    /** The embedded database's `shared_buffers`, in kB. */
    readonly sharedBuffersKb: number;
    readonly poolSize: number;
    readonly readPoolSize: number;
    /** PostgreSQL's time limits for every session of the gateway (0: none). */
    readonly timeouts: DatabaseTimeouts;
  };
  readonly auth: {
    readonly bootstrapApiKey: string | null;
    /** How long a key once found is trusted without the database (0: ask every time). */
    readonly keyCacheMs: number;
  };
  readonly limits: {
    readonly maxIdsPerProfile: number;
    readonly rateLimitPerMinute: number;
    /** How long an identifyUsers idempotency key answers repeats; then it is forgotten. */
    readonly idempotencyTtlMs: number;
  };
  /** Vendor settings of the default workspace; null when the vendor is not configured. */
  readonly mixpanel: MixpanelSettings | null;
  readonly braze: BrazeSettings | null;
  readonly outbox: {
    /** Whether this process runs a dispatcher (any number of processes may). */
    readonly dispatcher: boolean;
    readonly batchSize: number;
    readonly pollMs: number;
    /** How long a claimed row stays with its dispatcher before another may take it. */
    readonly leaseMs: number;
    readonly backoffBaseMs: number;
    readonly maxAttempts: number;
    readonly maxAgeMs: number;
    readonly requestTimeoutMs: number;
    readonly brazeRequestsPerMinute: number;
    /** Batches in flight at once in this process, and vendor requests in flight per batch. */
    readonly workers: number;
    readonly requestsInFlight: number;
    /** How long delivered and skipped rows are kept, and dead ones (unless retried). */
    readonly retentionMs: number;
    readonly deadRetentionMs: number;
  };
  readonly log: { readonly level: string };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** Rules that tie variables together, checked on the raw values so they add to the field errors. */
function crossFieldProblems(env: Env): string[] {
  const has = (name: string) => (env[name] ?? '').trim() !== '';
  const problems: string[] = [];
  if (has('MIXPANEL_SERVICE_ACCOUNT') && !has('MIXPANEL_PROJECT_ID')) {
    problems.push('MIXPANEL_PROJECT_ID: required when MIXPANEL_SERVICE_ACCOUNT is set');
  }
  const mixpanelExtras = [
    'MIXPANEL_API_HOST',
    'MIXPANEL_SERVICE_ACCOUNT',
    'MIXPANEL_GDPR_TOKEN',
    'MIXPANEL_GDPR_API_HOST',
  ];
  if (!has('MIXPANEL_TOKEN') && mixpanelExtras.some(has)) {
    problems.push('MIXPANEL_TOKEN: required when other MIXPANEL_* variables are set');
  }
  if (has('BRAZE_API_KEY') !== has('BRAZE_REST_ENDPOINT')) {
    problems.push('BRAZE_API_KEY, BRAZE_REST_ENDPOINT: set both or neither');
  }
  return problems;
}

export function loadConfig(env: Env): Config {
  const parsed = envSchema.safeParse(env);
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)),
    ...crossFieldProblems(env),
  ];
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;

  const production = e.NODE_ENV === 'production';
  return Object.freeze({
    http: {
      port: e.PORT,
      host: e.HOST,
      maxBodyBytes: e.MAX_BODY_BYTES,
      maxQueryDepth: e.MAX_QUERY_DEPTH,
      maxQueryCost: e.MAX_QUERY_COST,
      maxQueryTokens: e.MAX_QUERY_TOKENS,
      rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
      introspection: e.INTROSPECTION ? e.INTROSPECTION === 'true' : !production,
      playground: e.PLAYGROUND ? e.PLAYGROUND === 'true' : !production,
      production,
      corsOrigins: [...new Set(e.CORS_ORIGINS)],
      subscriptions: {
        perConnection: e.SUBSCRIPTIONS_PER_CONNECTION,
        perKey: e.SUBSCRIPTIONS_PER_KEY,
        queue: e.SUBSCRIPTION_QUEUE,
        initTimeoutMs: e.WS_INIT_TIMEOUT_MS,
      },
    },
    db: {
      url: e.DATABASE_URL ?? null,
      dataDir: e.DATA_DIR,
      sharedBuffersKb: e.EMBEDDED_SHARED_BUFFERS,
      poolSize: e.DATABASE_POOL_SIZE,
      readPoolSize: e.DATABASE_READ_POOL_SIZE,
      timeouts: {
        statementMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
        lockMs: e.DATABASE_LOCK_TIMEOUT_MS,
        idleInTransactionMs: e.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
      },
    },
    auth: { bootstrapApiKey: e.BOOTSTRAP_API_KEY ?? null, keyCacheMs: e.AUTH_KEY_CACHE_MS },
    limits: {
      maxIdsPerProfile: e.MAX_IDS_PER_PROFILE,
      rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
      idempotencyTtlMs: Math.round(e.IDEMPOTENCY_TTL_HOURS * 3_600_000),
    },
    mixpanel: e.MIXPANEL_TOKEN
      ? {
          token: e.MIXPANEL_TOKEN,
          apiHost: e.MIXPANEL_API_HOST ?? US_MIXPANEL_HOST,
          idMerge: e.MIXPANEL_ID_MERGE,
          serviceAccount: e.MIXPANEL_SERVICE_ACCOUNT ?? null,
          projectId: e.MIXPANEL_PROJECT_ID ?? null,
          gdprToken: e.MIXPANEL_GDPR_TOKEN ?? null,
          gdprApiHost: e.MIXPANEL_GDPR_API_HOST ?? null,
        }
      : null,
    braze:
      e.BRAZE_API_KEY && e.BRAZE_REST_ENDPOINT
        ? { apiKey: e.BRAZE_API_KEY, restEndpoint: e.BRAZE_REST_ENDPOINT }
        : null,
    outbox: {
      dispatcher: e.OUTBOX_DISPATCHER !== 'false',
      batchSize: e.OUTBOX_BATCH_SIZE,
      pollMs: e.OUTBOX_POLL_MS,
      leaseMs: e.OUTBOX_LEASE_MS,
      backoffBaseMs: e.OUTBOX_BACKOFF_BASE_MS,
      maxAttempts: e.OUTBOX_MAX_ATTEMPTS,
      maxAgeMs: e.OUTBOX_MAX_AGE_MINUTES * 60_000,
      requestTimeoutMs: e.VENDOR_TIMEOUT_MS,
      brazeRequestsPerMinute: e.BRAZE_REQUESTS_PER_MINUTE,
      workers: e.OUTBOX_WORKERS,
      requestsInFlight: e.OUTBOX_REQUESTS_IN_FLIGHT,
      retentionMs: e.OUTBOX_RETENTION_DAYS * DAY_MS,
      deadRetentionMs: e.OUTBOX_DEAD_RETENTION_DAYS * DAY_MS,
    },
    log: { level: e.LOG_LEVEL },
  });
}
