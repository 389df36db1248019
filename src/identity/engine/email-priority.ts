/**
 * Braze's email prioritization: the steps narrow the candidates in order. A step that matches
 * nothing is passed over; when the list runs out with more than one candidate left, the email
 * is ambiguous and nothing merges.
 */
import type { EmailPrioritization, ProfileState } from './model.js';

export const FORBIDDEN_PAIRS: readonly (readonly [EmailPrioritization, EmailPrioritization])[] = [
  ['IDENTIFIED', 'UNIDENTIFIED'],
  ['MOST_RECENTLY_UPDATED', 'LEAST_RECENTLY_UPDATED'],
];

/** Why a prioritization list is not allowed, or null when it is. */
export function prioritizationProblem(list: readonly EmailPrioritization[]): string | null {
  if (list.length === 0) return 'must not be empty';
  if (new Set(list).size !== list.length) return 'must not repeat a value';
  for (const [a, b] of FORBIDDEN_PAIRS) {
    if (list.includes(a) && list.includes(b)) return `must not contain both ${a} and ${b}`;
  }
  return null;
}

function step(kind: EmailPrioritization, candidates: readonly ProfileState[]): ProfileState[] {
  switch (kind) {
    case 'IDENTIFIED':
      return candidates.filter((p) => p.externalId !== null);
    case 'UNIDENTIFIED':
      return candidates.filter((p) => p.externalId === null);
    case 'MOST_RECENTLY_UPDATED': {
      const latest = Math.max(...candidates.map((p) => p.updatedAt.getTime()));
      return candidates.filter((p) => p.updatedAt.getTime() === latest);
    }
    case 'LEAST_RECENTLY_UPDATED': {
      const earliest = Math.min(...candidates.map((p) => p.updatedAt.getTime()));
      return candidates.filter((p) => p.updatedAt.getTime() === earliest);
    }
  }
}

export type EmailChoice =
  | { readonly kind: 'none' }
  | { readonly kind: 'one'; readonly profile: ProfileState }
  | { readonly kind: 'ambiguous'; readonly candidates: readonly ProfileState[] };

export function chooseByEmail(
  candidates: readonly ProfileState[],
  prioritization: readonly EmailPrioritization[],
): EmailChoice {
  if (candidates.length === 0) return { kind: 'none' };
  let left = [...candidates];
  for (const kind of prioritization) {
    if (left.length === 1) break;
    const narrowed = step(kind, left);
    if (narrowed.length > 0) left = narrowed;
  }
  return left.length === 1
    ? { kind: 'one', profile: left[0] }
    : { kind: 'ambiguous', candidates: left };
}
