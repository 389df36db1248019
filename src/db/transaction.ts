/**
 * Runs a unit of work in one transaction and runs it again, from the start, when it lost a race:
 * serialization failure (40001), deadlock (40P01) or a unique violation (23505) means another
 * request changed what this one read, so it must re-read and decide again.
 */
import type { Db, Tx } from './client.js';

const RETRYABLE = new Set(['40001', '40P01', '23505']);

export class TransactionRetriesExhaustedError extends Error {
  constructor(
    readonly attempts: number,
    options: { cause: unknown },
  ) {
    super(`transaction lost ${attempts} races in a row`, options);
    this.name = 'TransactionRetriesExhaustedError';
  }
}

/** Thrown by a unit of work that found its reads outdated; the transaction is run again. */
export class RaceLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RaceLostError';
  }
}

/** The SQLSTATE of a driver error, looking through drizzle's wrapper. */
export function sqlState(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Why a request could not be served now although nothing is wrong with it. */
export type UnavailableReason =
  'CONTENTION' | 'LOCK_TIMEOUT' | 'STATEMENT_TIMEOUT' | 'TRANSACTION_TIMEOUT';

export interface Unavailable {
  readonly reason: UnavailableReason;
  /** When a retry is worth it: soon after a lost race, later after a time limit. */
  readonly retryAfterMs: number;
}

/** SQLSTATEs of PostgreSQL's time limits (see DATABASE_*_TIMEOUT_MS). */
const TIME_LIMITS: Readonly<Record<string, UnavailableReason>> = {
  '55P03': 'LOCK_TIMEOUT', // lock_not_available: lock_timeout
  '57014': 'STATEMENT_TIMEOUT', // query_canceled: statement_timeout
  '25P03': 'TRANSACTION_TIMEOUT', // idle_in_transaction_session_timeout
};

/**
 * A failure the caller should simply retry: the transaction lost every race it ran, or a
 * database time limit ended it (its locks and connection are given back). Null otherwise.
 */
export function unavailableBecause(error: unknown): Unavailable | null {
  if (error instanceof TransactionRetriesExhaustedError) {
    return { reason: 'CONTENTION', retryAfterMs: 100 };
  }
  const state = sqlState(error);
  const reason = state === undefined ? undefined : TIME_LIMITS[state];
  return reason ? { reason, retryAfterMs: 1000 } : null;
}

export function isRetryable(error: unknown): boolean {
  if (error instanceof RaceLostError) return true;
  const state = sqlState(error);
  return state !== undefined && RETRYABLE.has(state);
}

export async function inTransaction<T>(
  db: Db,
  work: (tx: Tx, attempt: number) => Promise<T>,
  maxAttempts = 8,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction((tx) => work(tx, attempt));
    } catch (error) {
      if (!isRetryable(error)) throw error;
      if (attempt >= maxAttempts)
        throw new TransactionRetriesExhaustedError(attempt, { cause: error });
      // Back off a little, with jitter, so the winners can commit before we re-read.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
    }
  }
}

/**
 * Promise.all for statements of one transaction sent together (one round trip): they run in the
 * order they were sent, and once one fails every later one fails too, only saying that the
 * transaction was aborted. The error thrown is that of the first failing statement in sending
 * order, whatever order the rejections arrive in, so that a lock timeout or a unique violation is
 * seen as what it is (and retried, or reported) rather than as an aborted transaction.
 */
export async function allInOrder<T extends readonly unknown[]>(
  statements: T,
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const settled = await Promise.allSettled(statements);
  for (const outcome of settled) if (outcome.status === 'rejected') throw outcome.reason;
  return settled.map((o) => (o as PromiseFulfilledResult<unknown>).value) as {
    -readonly [K in keyof T]: Awaited<T[K]>;
  };
}
