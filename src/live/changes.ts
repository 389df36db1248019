/**
 * Live updates between gateway processes: every write that changes people sends a notice with
 * `pg_notify` inside its own transaction, so PostgreSQL delivers it only once that transaction
 * commits (never for one rolled back), to every process listening, this one included. A notice
 * names the workspace and the profiles changed, the merges recorded and the profiles forgotten;
 * listeners read what they show from the database, so a notice carries no personal data.
 * PGlite, single-process, implements LISTEN and NOTIFY too.
 */
import { sql } from 'drizzle-orm';

import type { Database, Queryable } from '../db/client.js';
import { textArray } from '../identity/store/sql-helpers.js';

export const CHANGES_CHANNEL = 'igw_changes';

/** PostgreSQL refuses a payload of 8,000 bytes or more: longer notices go out in parts. */
const MAX_PAYLOAD = 7_000;

export interface MergeNotice {
  readonly id: string;
  readonly absorbedId: string;
  readonly survivorId: string;
}

export interface ChangeNotice {
  readonly workspaceId: string;
  /** Live profiles whose data changed (tracked, aliased, identified, merged into, undone). */
  readonly profiles: readonly string[];
  readonly merges: readonly MergeNotice[];
  /** Profiles erased by forgetUsers. */
  readonly forgotten: readonly string[];
}

interface Wire {
  w: string;
  p?: string[];
  m?: [string, string, string][];
  f?: string[];
}

/** The notice as payloads short enough for pg_notify; none when nothing changed. */
export function encodeNotice(notice: ChangeNotice): string[] {
  const parts: string[] = [];
  let wire: Wire = { w: notice.workspaceId };
  let size = JSON.stringify(wire).length;
  let empty = true;
  const add = <K extends 'p' | 'm' | 'f'>(key: K, item: NonNullable<Wire[K]>[number]) => {
    const cost = JSON.stringify(item).length + key.length + 4;
    if (!empty && size + cost > MAX_PAYLOAD) {
      parts.push(JSON.stringify(wire));
      wire = { w: notice.workspaceId };
      size = JSON.stringify(wire).length;
    }
    ((wire[key] ??= []) as unknown[]).push(item);
    size += cost;
    empty = false;
  };
  for (const id of new Set(notice.profiles)) add('p', id);
  for (const m of notice.merges) add('m', [m.id, m.absorbedId, m.survivorId]);
  for (const id of new Set(notice.forgotten)) add('f', id);
  if (!empty) parts.push(JSON.stringify(wire));
  return parts;
}

export function decodeNotice(payload: string): ChangeNotice | null {
  try {
    const wire = JSON.parse(payload) as Wire;
    if (typeof wire.w !== 'string') return null;
    return {
      workspaceId: wire.w,
      profiles: wire.p ?? [],
      merges: (wire.m ?? []).map(([id, absorbedId, survivorId]) => ({
        id,
        absorbedId,
        survivorId,
      })),
      forgotten: wire.f ?? [],
    };
  } catch {
    return null;
  }
}

/**
 * Sends the notice when `tx` commits, in one statement that may go out with the transaction's
 * other writes; sends nothing when nothing changed.
 */
export async function notifyChanges(tx: Queryable, notice: ChangeNotice): Promise<void> {
  const parts = encodeNotice(notice);
  if (parts.length === 0) return;
  await tx.execute(
    sql`select count(pg_notify(${CHANGES_CHANNEL}, n)) from unnest(${textArray(parts)}) as n`,
  );
}

export type NoticeListener = (notice: ChangeNotice) => void;

/**
 * This process's end of the channel: listens once the first subscriber arrives (a dedicated
 * connection on PostgreSQL), and hands each committed notice to the subscribers of its
 * workspace.
 */
export class LiveHub {
  private readonly byWorkspace = new Map<string, Set<NoticeListener>>();
  private listening: Promise<() => Promise<void>> | null = null;

  constructor(private readonly database: Pick<Database, 'listen'>) {}

  /** Resolves once notices committed from now on will reach `listener`; returns its removal. */
  async subscribe(workspaceId: string, listener: NoticeListener): Promise<() => void> {
    try {
      this.listening ??= this.database.listen(CHANGES_CHANNEL, (payload) => this.dispatch(payload));
      await this.listening;
    } catch (error) {
      this.listening = null;
      throw error;
    }
    // Counted only now that the channel is listened to (the first subscriber waits for LISTEN).
    let set = this.byWorkspace.get(workspaceId);
    if (!set) this.byWorkspace.set(workspaceId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.byWorkspace.get(workspaceId) === set) {
        this.byWorkspace.delete(workspaceId);
      }
    };
  }

  /**
   * Subscribers of a workspace's notices in this process whose channel is listened to: each will
   * receive every notice committed from now on (tests wait on it for readiness).
   */
  listenerCount(workspaceId: string): number {
    return this.byWorkspace.get(workspaceId)?.size ?? 0;
  }

  async close(): Promise<void> {
    const listening = this.listening;
    this.listening = null;
    this.byWorkspace.clear();
    const stop = await listening?.catch(() => null);
    await stop?.();
  }

  private dispatch(payload: string): void {
    const notice = decodeNotice(payload);
    if (!notice) return;
    for (const listener of this.byWorkspace.get(notice.workspaceId) ?? []) listener(notice);
  }
}
