/**
 * Retention of finished deliveries: delivered and skipped rows are deleted once they are older
 * than `retentionMs`, dead rows (unless retried) after `deadRetentionMs`. Workspace by
 * workspace, in batches of a short statement each, so it holds no long locks and can stop
 * between any two batches.
 */
import type { QueueRepository } from './queue-repository.js';

export interface RetentionOptions {
  readonly retentionMs: number;
  readonly deadRetentionMs: number;
  readonly retentionIntervalMs: number;
  readonly retentionBatchSize: number;
}

export class OutboxRetention {
  constructor(
    private readonly queue: QueueRepository,
    private readonly options: RetentionOptions,
    private readonly clock: () => Date,
    private readonly signal: AbortSignal,
  ) {}

  /** One pass over these workspaces; returns the rows deleted. */
  async run(workspaceIds: readonly string[]): Promise<number> {
    const now = this.clock().getTime();
    const { retentionMs, deadRetentionMs } = this.options;
    let removed = 0;
    for (const workspaceId of workspaceIds) {
      removed += await this.drain(workspaceId, 'delivered', new Date(now - retentionMs));
      removed += await this.drain(workspaceId, 'dead', new Date(now - deadRetentionMs));
    }
    return removed;
  }

  private async drain(workspaceId: string, which: 'delivered' | 'dead', cutoff: Date) {
    const limit = this.options.retentionBatchSize;
    let removed = 0;
    for (;;) {
      if (this.signal.aborted) return removed;
      const n = await this.queue.deleteFinished(workspaceId, which, cutoff, limit);
      removed += n;
      if (n < limit) return removed;
    }
  }
}
