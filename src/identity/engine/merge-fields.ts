/**
 * How two profiles combine, field by field, following Braze's merge list: the survivor keeps
 * every value it has and gains the ones only the absorbed profile had; counts add up; first
 * times take the earlier, last times the later. With NONE only identifiers and push tokens move.
 */
import {
  STANDARD_FIELDS,
  type AppState,
  type EventState,
  type MergeBehavior,
  type ProfileState,
  type PurchaseState,
  type StandardField,
} from './model.js';

const earlier = (a: Date, b: Date) => (b < a ? b : a);
const later = (a: Date, b: Date) => (b > a ? b : a);
const earlierOrNull = (a: Date | null, b: Date | null) => (a && b ? earlier(a, b) : (a ?? b));
const laterOrNull = (a: Date | null, b: Date | null) => (a && b ? later(a, b) : (a ?? b));

function addDaily(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>) {
  const out: Record<string, number> = { ...a };
  for (const [day, n] of Object.entries(b)) out[day] = (out[day] ?? 0) + n;
  return out;
}

export function mergeEvents(a: readonly EventState[], b: readonly EventState[]): EventState[] {
  const byName = new Map(a.map((e) => [e.name, e]));
  for (const e of b) {
    const s = byName.get(e.name);
    byName.set(
      e.name,
      s
        ? {
            name: e.name,
            count: s.count + e.count,
            firstAt: earlier(s.firstAt, e.firstAt),
            lastAt: later(s.lastAt, e.lastAt),
            daily: addDaily(s.daily, e.daily),
          }
        : e,
    );
  }
  return [...byName.values()].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
}

export function mergePurchases(
  a: PurchaseState | null,
  b: PurchaseState | null,
): PurchaseState | null {
  if (!a || !b) return a ?? b;
  return {
    count: a.count + b.count,
    totalCents: a.totalCents + b.totalCents,
    firstAt: earlier(a.firstAt, b.firstAt),
    lastAt: later(a.lastAt, b.lastAt),
  };
}

export function mergeApps(a: readonly AppState[], b: readonly AppState[]): AppState[] {
  const byApp = new Map(a.map((x) => [x.appId, x]));
  for (const x of b) {
    const s = byApp.get(x.appId);
    byApp.set(
      x.appId,
      s
        ? {
            appId: x.appId,
            sessionCount: s.sessionCount + x.sessionCount,
            firstSessionAt: earlier(s.firstSessionAt, x.firstSessionAt),
            lastSessionAt: later(s.lastSessionAt, x.lastSessionAt),
            totalSeconds: s.totalSeconds + x.totalSeconds,
          }
        : x,
    );
  }
  return [...byApp.values()].sort((x, y) => (x.appId < y.appId ? -1 : x.appId > y.appId ? 1 : 0));
}

export interface MergeResult {
  readonly survivor: ProfileState;
  readonly absorbed: ProfileState;
  /** Survivor fields whose value changed, e.g. `firstName`, `customAttributes.plan`, `events.signup`. */
  readonly changedFields: string[];
}

/** Absorbs `absorbed` into `survivor`; the absorbed profile becomes a tombstone. */
export function mergeProfiles(
  survivor: ProfileState,
  absorbed: ProfileState,
  behavior: MergeBehavior,
  now: Date,
): MergeResult {
  const changed: string[] = [];
  const aliases = [...survivor.aliases, ...absorbed.aliases];
  const tokens = new Map(survivor.pushTokens.map((t) => [`${t.appId}\u0001${t.token}`, t]));
  for (const t of absorbed.pushTokens) tokens.set(`${t.appId}\u0001${t.token}`, t);
  if (absorbed.aliases.length > 0) changed.push('aliases');
  if (absorbed.pushTokens.length > 0) changed.push('pushTokens');

  let merged: ProfileState = {
    ...survivor,
    aliases,
    pushTokens: [...tokens.values()],
    updatedAt: now,
  };
  // The tombstone keeps its own data under NONE; under MERGE its data moved to the survivor.
  let tombstone: ProfileState = {
    ...absorbed,
    aliases: [],
    pushTokens: [],
    mergedInto: survivor.id,
    updatedAt: now,
  };

  if (behavior === 'MERGE') {
    const attributes = { ...survivor.attributes };
    for (const field of STANDARD_FIELDS) {
      if (attributes[field] === null && absorbed.attributes[field] !== null) {
        attributes[field] = absorbed.attributes[field];
        changed.push(field);
      }
    }
    const customAttributes = { ...survivor.customAttributes };
    for (const [key, value] of Object.entries(absorbed.customAttributes)) {
      // Own keys only, and defined rather than assigned: `constructor` or `__proto__` are data here.
      if (!Object.hasOwn(customAttributes, key)) {
        Object.defineProperty(customAttributes, key, {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
        changed.push(`customAttributes.${key}`);
      }
    }
    const firstSessionAt = earlierOrNull(survivor.firstSessionAt, absorbed.firstSessionAt);
    const lastSessionAt = laterOrNull(survivor.lastSessionAt, absorbed.lastSessionAt);
    if (absorbed.sessionCount > 0) changed.push('sessionCount');
    if (firstSessionAt?.getTime() !== survivor.firstSessionAt?.getTime())
      changed.push('firstSessionAt');
    if (lastSessionAt?.getTime() !== survivor.lastSessionAt?.getTime())
      changed.push('lastSessionAt');
    for (const e of absorbed.events) changed.push(`events.${e.name}`);
    if (absorbed.purchases) changed.push('purchases');
    for (const a of absorbed.apps) changed.push(`apps.${a.appId}`);
    merged = {
      ...merged,
      attributes,
      customAttributes,
      sessionCount: survivor.sessionCount + absorbed.sessionCount,
      firstSessionAt,
      lastSessionAt,
      events: mergeEvents(survivor.events, absorbed.events),
      purchases: mergePurchases(survivor.purchases, absorbed.purchases),
      apps: mergeApps(survivor.apps, absorbed.apps),
    };
    tombstone = {
      ...tombstone,
      sessionCount: 0,
      firstSessionAt: null,
      lastSessionAt: null,
      events: [],
      purchases: null,
      apps: [],
    };
  }
  return { survivor: merged, absorbed: tombstone, changedFields: [...new Set(changed)] };
}

/**
 * What the journal keeps of the survivor's state before a merge: only the fields the merge
 * changed (an undo restores those and checks them for later changes, and each merged field
 * depends on the two profiles' values of that field alone), plus its small scalars. Its aliases,
 * push tokens and every event, app and attribute the merge left alone are not kept: the undo
 * takes them from the survivor as it is. The absorbed profile is kept whole, since it comes back.
 */
export function journalledSurvivor(
  before: ProfileState,
  changedFields: readonly string[],
): ProfileState {
  const changed = new Set(changedFields);
  const attributes = Object.fromEntries(
    STANDARD_FIELDS.map((f) => [f, changed.has(f) ? before.attributes[f] : null]),
  ) as Record<StandardField, string | null>;
  // Object.fromEntries defines own properties: `__proto__` or `constructor` stay data here.
  const customAttributes = Object.fromEntries(
    Object.entries(before.customAttributes).filter(([key]) =>
      changed.has(`customAttributes.${key}`),
    ),
  );
  return {
    ...before,
    attributes,
    customAttributes,
    aliases: [],
    pushTokens: [],
    events: before.events.filter((e) => changed.has(`events.${e.name}`)),
    purchases: changed.has('purchases') ? before.purchases : null,
    apps: before.apps.filter((a) => changed.has(`apps.${a.appId}`)),
  };
}
