/** Pages of a list as the API serves them: checked sizes and cursors, edges, a lazy total. */
import { badInput } from './app-error.js';
import { decodeCursor, encodeCursor } from './cursor.js';

export const MAX_PAGE_SIZE = 100;

export interface PageRequest {
  readonly first: number;
  readonly after?: string | null;
}

/** Relay's page info, for pages read forward (`first`, `after`). */
export interface PageInfoShape {
  readonly hasNextPage: boolean;
  /** Whether items come before this page: true when it starts after a cursor. */
  readonly hasPreviousPage: boolean;
  readonly startCursor: string | null;
  readonly endCursor: string | null;
}

export interface Page<T> {
  readonly edges: { cursor: string; node: T }[];
  readonly pageInfo: PageInfoShape;
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

/**
 * A page of `first` rows out of `rows` (one more was read to tell whether a next page exists),
 * read after the cursor `after` (null for the first page).
 */
export function toPage<T>(
  rows: T[],
  page: { readonly first: number; readonly after?: string | null },
  key: (row: T) => string[],
  totalCount: () => Promise<number>,
): Page<T> {
  const nodes = rows.slice(0, page.first);
  const edges = nodes.map((node) => ({ cursor: encodeCursor(key(node)), node }));
  return { edges, pageInfo: pageInfoOf(edges, rows.length > page.first, page.after), totalCount };
}

/** The page info of `edges`, read forward after `after`. */
function pageInfoOf(
  edges: readonly { cursor: string }[],
  hasNextPage: boolean,
  after: string | null | undefined,
): PageInfoShape {
  return {
    hasNextPage,
    // Relay lets a forward page say false when it cannot tell cheaply; a page after a cursor
    // always has the cursor's item (or the items once before it) ahead of it.
    hasPreviousPage: after != null,
    startCursor: edges[0]?.cursor ?? null,
    endCursor: edges.at(-1)?.cursor ?? null,
  };
}
