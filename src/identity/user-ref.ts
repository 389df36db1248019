/**
 * How requests name a user: by exactly one of externalId, userAlias or anonId. Validation here
 * is shared by every mutation, so a placeholder or malformed identifier is refused the same way
 * everywhere.
 */
import type { InputProblem } from '../lib/app-error.js';
import { unstorableText } from '../lib/text.js';
import {
  isAnonIdFormat,
  isPlaceholderId,
  MAX_IDENTIFIER_LENGTH,
  type IdentifierRef,
} from './engine/identifiers.js';

export interface UserAliasValue {
  readonly aliasName: string;
  readonly aliasLabel: string;
}

export interface UserRefInput {
  readonly externalId?: string | null;
  readonly userAlias?: UserAliasValue | null;
  readonly anonId?: string | null;
}

/** Problems with a string that will be stored as text (Postgres text cannot hold NUL). */
export function textProblem(value: string, maxLength: number): string | null {
  const unstorable = unstorableText(value);
  if (unstorable) return unstorable;
  if (value.length > maxLength) return `must be at most ${maxLength} characters`;
  return null;
}

/** Problems with an external id, alias name or anon id. */
export function identifierProblem(value: string): string | null {
  const text = textProblem(value, MAX_IDENTIFIER_LENGTH);
  if (text) return text;
  if (value.trim() !== value) return 'must not start or end with white space';
  if (isPlaceholderId(value)) return `"${value}" is a placeholder, not a user's identifier`;
  return null;
}

export function anonIdProblem(value: string): string | null {
  return (
    identifierProblem(value) ??
    (isAnonIdFormat(value) ? null : 'must be a UUID v4, optionally prefixed with "$device:"')
  );
}

export function labelProblem(value: string): string | null {
  const text = textProblem(value, MAX_IDENTIFIER_LENGTH);
  if (text) return text;
  if (value.trim() === '') return 'must not be blank';
  return null;
}

/**
 * The identifier a user reference names, or the problems with it. An alias under the
 * workspace's anon-id label is an anon id and must look like one.
 */
export function resolveUserRef(
  ref: UserRefInput,
  path: string,
  anonIdLabel: string,
  problems: InputProblem[],
): IdentifierRef | null {
  const given = [ref.externalId, ref.userAlias, ref.anonId].filter((v) => v != null);
  if (given.length !== 1) {
    problems.push({
      path,
      message: 'name the user by exactly one of externalId, userAlias, anonId',
    });
    return null;
  }
  const before = problems.length;
  const check = (field: string, message: string | null) => {
    if (message) problems.push({ path: `${path}.${field}`, message });
  };
  if (ref.externalId != null) {
    check('externalId', identifierProblem(ref.externalId));
    return problems.length > before ? null : { kind: 'externalId', externalId: ref.externalId };
  }
  if (ref.anonId != null) {
    check('anonId', anonIdProblem(ref.anonId));
    return problems.length > before
      ? null
      : { kind: 'alias', aliasLabel: anonIdLabel, aliasName: ref.anonId };
  }
  const alias = ref.userAlias!;
  check('userAlias.aliasLabel', labelProblem(alias.aliasLabel));
  check(
    'userAlias.aliasName',
    alias.aliasLabel === anonIdLabel
      ? anonIdProblem(alias.aliasName)
      : identifierProblem(alias.aliasName),
  );
  return problems.length > before
    ? null
    : { kind: 'alias', aliasLabel: alias.aliasLabel, aliasName: alias.aliasName };
}

/** Problems inside a JSON object that Postgres jsonb would refuse or that are unreasonable. */
export function jsonProblem(value: unknown, maxDepth = 8): string | null {
  const walk = (v: unknown, depth: number): string | null => {
    if (depth > maxDepth) return `must not nest deeper than ${maxDepth} levels`;
    if (typeof v === 'string') return unstorableText(v);
    if (typeof v === 'number') return Number.isFinite(v) ? null : 'numbers must be finite';
    if (Array.isArray(v)) {
      for (const item of v) {
        const p = walk(item, depth + 1);
        if (p) return p;
      }
      return null;
    }
    if (v !== null && typeof v === 'object') {
      for (const [k, item] of Object.entries(v)) {
        const key = unstorableText(k);
        if (key) return `keys ${key}`;
        const p = walk(item, depth + 1);
        if (p) return p;
      }
    }
    return null;
  };
  return walk(value, 0);
}
