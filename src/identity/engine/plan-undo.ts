/**
 * Undoing a merge: the survivor gives back what the merge gave it, field by field, and the
 * absorbed profile comes back as it was. Refused when a merged field changed since the merge,
 * because the gateway could no longer tell the absorbed profile's share from later changes.
 */
import { mergeProfiles } from './merge-fields.js';
import {
  STANDARD_FIELDS,
  type MergeBehavior,
  type ProfileState,
  type StandardField,
} from './model.js';

export interface UndoInput {
  readonly behavior: MergeBehavior;
  readonly survivorBefore: ProfileState;
  readonly absorbedBefore: ProfileState;
  readonly changedFields: readonly string[];
}

export type UndoPlan =
  | { readonly kind: 'conflict'; readonly fields: string[] }
  | { readonly kind: 'undo'; readonly survivor: ProfileState; readonly absorbed: ProfileState };

/** Deep equality that ignores key order (stored JSON comes back with its keys reordered). */
function canonical(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    return Object.keys(value)
      .sort()
      .map((k) => [k, canonical((value as Record<string, unknown>)[k])]);
  }
  return value;
}
const same = (a: unknown, b: unknown) =>
  JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
const tokenKey = (t: { appId: string; token: string }) => `${t.appId}\u0001${t.token}`;
const aliasKey = (a: { aliasLabel: string; aliasName: string }) =>
  `${a.aliasLabel}\u0001${a.aliasName}`;

/** The value of one changed field on a profile, for comparison. */
function valueOf(p: ProfileState, field: string, absorbed: ProfileState): unknown {
  if ((STANDARD_FIELDS as readonly string[]).includes(field))
    return p.attributes[field as StandardField];
  if (field.startsWith('customAttributes.'))
    return p.customAttributes[field.slice('customAttributes.'.length)];
  if (field.startsWith('events.'))
    return p.events.find((e) => e.name === field.slice('events.'.length));
  if (field.startsWith('apps.')) return p.apps.find((a) => a.appId === field.slice('apps.'.length));
  switch (field) {
    case 'sessionCount':
      return p.sessionCount;
    case 'firstSessionAt':
      return p.firstSessionAt;
    case 'lastSessionAt':
      return p.lastSessionAt;
    case 'purchases':
      return p.purchases;
    case 'aliases': {
      const held = new Set(p.aliases.map(aliasKey));
      return absorbed.aliases.map((a) => held.has(aliasKey(a)));
    }
    case 'pushTokens': {
      const held = new Set(p.pushTokens.map(tokenKey));
      return absorbed.pushTokens.map((t) => held.has(tokenKey(t)));
    }
    default:
      return undefined;
  }
}

export function planUndo(input: UndoInput, current: ProfileState, now: Date): UndoPlan {
  const { survivorBefore: before, absorbedBefore: absorbed } = input;
  const expected = mergeProfiles(before, absorbed, input.behavior, now).survivor;
  const conflicts = input.changedFields.filter(
    (f) => !same(valueOf(current, f, absorbed), valueOf(expected, f, absorbed)),
  );
  if (conflicts.length > 0) return { kind: 'conflict', fields: conflicts };

  const changed = new Set(input.changedFields);
  const attributes = { ...current.attributes };
  for (const f of STANDARD_FIELDS) if (changed.has(f)) attributes[f] = before.attributes[f];
  const customAttributes = { ...current.customAttributes };
  for (const f of changed) {
    if (f.startsWith('customAttributes.'))
      delete customAttributes[f.slice('customAttributes.'.length)];
  }
  const restoreList = <T>(
    list: readonly T[],
    prefix: string,
    key: (x: T) => string,
    old: readonly T[],
  ) =>
    list
      .filter((x) => !changed.has(`${prefix}${key(x)}`))
      .concat(old.filter((x) => changed.has(`${prefix}${key(x)}`)))
      .sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const absorbedAliases = new Set(absorbed.aliases.map(aliasKey));
  const absorbedTokens = new Set(absorbed.pushTokens.map(tokenKey));

  const survivor: ProfileState = {
    ...current,
    attributes,
    customAttributes,
    sessionCount: changed.has('sessionCount') ? before.sessionCount : current.sessionCount,
    firstSessionAt: changed.has('firstSessionAt') ? before.firstSessionAt : current.firstSessionAt,
    lastSessionAt: changed.has('lastSessionAt') ? before.lastSessionAt : current.lastSessionAt,
    events: restoreList(current.events, 'events.', (e) => e.name, before.events),
    purchases: changed.has('purchases') ? before.purchases : current.purchases,
    apps: restoreList(current.apps, 'apps.', (a) => a.appId, before.apps),
    aliases: current.aliases.filter((a) => !absorbedAliases.has(aliasKey(a))),
    pushTokens: current.pushTokens.filter((t) => !absorbedTokens.has(tokenKey(t))),
    updatedAt: now,
  };
  return { kind: 'undo', survivor, absorbed: { ...absorbed, mergedInto: null, updatedAt: now } };
}
