/** Pages of a list as the API serves them: checked sizes and cursors, edges, a lazy total. */
import { badInput } from './app-error.js';
import { decodeCursor, encodeCursor } from './cursor.js';

export const MAX_PAGE_SIZE = 100;

export interface PageRequest {
  readonly first: number;
  readonly after?: string | null;
}

export interface Page<T> {
  readonly edges: { cursor: string; node: T }[];
  readonly pageInfo: { hasNextPage: boolean; endCursor: string | null };
  /** Counted only when asked for. */
  readonly totalCount: () => Promise<number>;
}

export function checkFirst(first: number): number {
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) {
    throw badInput([{ path: 'first', message: `must be between 0 and ${MAX_PAGE_SIZE}` }]);
  }
  return first;
}

export function badCursor() {
  return badInput([{ path: 'after', message: 'is not a cursor from this list' }]);
}

export function checkCursor(cursor: string, length: number): string[] {
  const values = decodeCursor(cursor, length);
  if (!values) throw badCursor();
  return values;
}

/** A page of `first` rows out of `rows` (one more was read to tell whether a next page exists). */
export function toPage<T>(
  rows: T[],
  first: number,
  key: (row: T) => string[],
  totalCount: () => Promise<number>,
): Page<T> {
  const nodes = rows.slice(0, first);
  const edges = nodes.map((node) => ({ cursor: encodeCursor(key(node)), node }));
  return {
    edges,
    pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null },
    totalCount,
  };
}
