/**
 * The rules every identifier must pass before the gateway stores or merges on it: no
 * placeholders (the values SDKs send when they have no real id), UUID v4 anonymous ids, and the
 * normal form under which identifiers are compared and locked.
 */

/**
 * Values never accepted as an external id, alias name or anon id, compared case-insensitively
 * after trimming and after removing one pair of surrounding quotes. The union of Mixpanel's
 * `/import` refusals, PostHog's illegal distinct ids and Segment's suggested blocklist.
 */
export const PLACEHOLDER_IDS: readonly string[] = [
  // Mixpanel /import
  '00000000-0000-0000-0000-000000000000',
  'anon',
  'anonymous',
  'nil',
  'none',
  'null',
  'n/a',
  'na',
  'undefined',
  'unknown',
  '<nil>',
  '0',
  '-1',
  'true',
  'false',
  '[]',
  '{}',
  // PostHog
  'guest',
  'distinctid',
  'distinct_id',
  'id',
  'not_authenticated',
  'email',
  '[object object]',
  'nan',
  // Segment
  'void',
];

const PLACEHOLDERS = new Set(PLACEHOLDER_IDS);
/** Segment's pattern: only zeroes and dashes (the all-zero UUID and its cousins). */
const ZEROES_AND_DASHES = /^[0-]+$/;

export function isPlaceholderId(value: string): boolean {
  let v = value.trim();
  if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v.at(-1) === v[0]) {
    v = v.slice(1, -1).trim();
  }
  if (v === '') return true;
  return PLACEHOLDERS.has(v.toLowerCase()) || ZEROES_AND_DASHES.test(v);
}

/** Mixpanel's SDKs send anonymous ids as `$device:<uuid>`; the prefix is part of the id. */
export const DEVICE_PREFIX = '$device:';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** A UUID version 4, hex digits in either case, optionally behind `$device:`. */
export function isAnonIdFormat(value: string): boolean {
  const id = value.startsWith(DEVICE_PREFIX) ? value.slice(DEVICE_PREFIX.length) : value;
  return UUID_V4.test(id);
}

/** Emails are compared trimmed and lower-cased. */
export function normalizeEmail(value: string): string {
  return value.trim().toLowerCase();
}

const EMAIL = /^[^\s@]+@[^\s@]+$/;

export function isEmailFormat(value: string): boolean {
  return EMAIL.test(value.trim());
}

export const MAX_IDENTIFIER_LENGTH = 255;

/** One identifier as the lock and lookup layers see it. */
export type IdentifierRef =
  | { readonly kind: 'externalId'; readonly externalId: string }
  | { readonly kind: 'alias'; readonly aliasLabel: string; readonly aliasName: string }
  | { readonly kind: 'email'; readonly email: string };

/** A stable string for an identifier: the advisory lock key and the map key in batches. */
export function identifierKey(ref: IdentifierRef): string {
  switch (ref.kind) {
    case 'externalId':
      return `x\u0001${ref.externalId}`;
    case 'alias':
      return `a\u0001${ref.aliasLabel}\u0001${ref.aliasName}`;
    case 'email':
      return `e\u0001${normalizeEmail(ref.email)}`;
  }
}

interface HeldIdentifiers {
  readonly externalId: string | null;
  readonly aliases: readonly { readonly aliasLabel: string; readonly aliasName: string }[];
}

/** The keys of the identifiers only this profile may hold: its aliases (anon ids included) and external id. */
export function uniqueIdentifierKeys(p: HeldIdentifiers): string[] {
  const keys = p.aliases.map((a) => identifierKey({ kind: 'alias', ...a }));
  if (p.externalId !== null)
    keys.push(identifierKey({ kind: 'externalId', externalId: p.externalId }));
  return keys;
}

/**
 * The lock keys of every identifier a profile holds: the unique ones and its email (which other
 * profiles may share). A writer that moves identifiers between profiles locks all of them.
 */
export function profileIdentifierKeys(
  p: HeldIdentifiers & { readonly attributes?: { readonly email?: string | null } },
): string[] {
  const keys = uniqueIdentifierKeys(p);
  const email = p.attributes?.email;
  if (email) keys.push(identifierKey({ kind: 'email', email }));
  return keys;
}
