/**
 * What becomes of a claimed row: delivered, skipped, dead, retried with exponential backoff and
 * jitter, or throttled (its attempt given back). One policy for vendor answers and for failures
 * of our own, so a row that makes its handling throw goes DEAD by the same limits as a row a
 * vendor keeps refusing.
 */
import type { Classification } from './message.js';
import type { ClaimedRow, RowOutcome } from './queue-repository.js';

export interface RetryLimits {
  readonly maxAttempts: number;
  readonly maxAgeMs: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
}

export class OutcomePolicy {
  constructor(
    private readonly limits: RetryLimits,
    private readonly clock: () => Date,
    private readonly random: () => number,
  ) {}

  final(row: ClaimedRow, status: 'DELIVERED' | 'DEAD' | 'SKIPPED', error: string | null) {
    return outcome(row, status, error);
  }

  /** Another attempt later, unless the row has used its attempts or is too old. */
  retry(row: ClaimedRow, error: string): RowOutcome {
    const now = this.clock().getTime();
    const tooOld = now - row.createdAt.getTime() > this.limits.maxAgeMs;
    if (row.attempts >= this.limits.maxAttempts || tooOld) {
      return outcome(row, 'DEAD', `gave up after ${row.attempts} attempts: ${error}`);
    }
    const { backoffBaseMs, backoffMaxMs } = this.limits;
    const delay = Math.min(backoffMaxMs, backoffBaseMs * 2 ** Math.max(row.attempts - 1, 0));
    const jitter = this.random() * backoffBaseMs;
    return {
      ...outcome(row, 'RETRYING', error),
      nextAttemptAt: new Date(now + delay + jitter),
    };
  }

  /** Throttling is not a failure: the attempt is given back, but the age limit still applies. */
  throttle(row: ClaimedRow, waitMs: number, error: string): RowOutcome {
    const now = this.clock().getTime();
    if (now - row.createdAt.getTime() > this.limits.maxAgeMs) {
      return outcome(
        row,
        'DEAD',
        `gave up after ${Math.round(this.limits.maxAgeMs / 60000)} minutes: ${error}`,
      );
    }
    return {
      ...outcome(row, 'RETRYING', error),
      nextAttemptAt: new Date(now + waitMs),
      refundAttempt: true,
    };
  }

  /** A vendor's verdict on one request, for each of its rows. */
  apply(verdict: Classification, rows: readonly ClaimedRow[]): RowOutcome[] {
    switch (verdict.kind) {
      case 'delivered':
        return rows.map((r) => ({
          ...outcome(r, 'DELIVERED', null),
          reference: verdict.reference ?? null,
        }));
      case 'partial':
        return rows.map((r) => {
          const failed = verdict.failed.get(String(r.id));
          return failed === undefined ? outcome(r, 'DELIVERED', null) : outcome(r, 'DEAD', failed);
        });
      case 'dead':
        return rows.map((r) => outcome(r, 'DEAD', verdict.error));
      case 'retry':
        return verdict.pauseMs !== null
          ? rows.map((r) => this.throttle(r, verdict.pauseMs!, verdict.error))
          : rows.map((r) => this.retry(r, verdict.error));
    }
  }
}

function outcome(row: ClaimedRow, status: RowOutcome['status'], error: string | null): RowOutcome {
  return {
    id: row.id,
    profileId: row.profileId,
    status,
    nextAttemptAt: null,
    lastError: error,
    refundAttempt: false,
  };
}
