/**
 * Builders for the pure merge engine: complete ProfileState values with empty defaults, identify
 * items, snapshots and a deterministic engine context (fixed time, counter-based ids).
 */
import {
  STANDARD_FIELDS,
  type AliasValue,
  type EmailPrioritization,
  type EngineContext,
  type EventState,
  type IdentifyItem,
  type ProfileState,
  type Snapshot,
  type StandardField,
} from '../../src/identity/engine/model.js';

export const ANON_LABEL = 'anon_id';
export const T0 = new Date('2024-01-01T00:00:00.000Z');
export const NOW = new Date('2024-06-01T12:00:00.000Z');

/** A date `days` days after T0. */
export const day = (days: number): Date => new Date(T0.getTime() + days * 86_400_000);

let profileCounter = 0;

export type ProfileOverrides = Partial<Omit<ProfileState, 'attributes'>> & {
  readonly attributes?: Partial<Record<StandardField, string | null>>;
};

/** A complete profile: unidentified, no attributes, no activity, created and updated at T0. */
export function aProfile(overrides: ProfileOverrides = {}): ProfileState {
  const { attributes, ...rest } = overrides;
  return {
    id: `profile-${++profileCounter}`,
    externalId: null,
    attributes: anAttributes(attributes),
    customAttributes: {},
    sessionCount: 0,
    firstSessionAt: null,
    lastSessionAt: null,
    aliases: [],
    events: [],
    purchases: null,
    pushTokens: [],
    apps: [],
    mergedInto: null,
    createdAt: T0,
    updatedAt: T0,
    ...rest,
  };
}

export function anAttributes(
  overrides: Partial<Record<StandardField, string | null>> = {},
): Record<StandardField, string | null> {
  const attributes = Object.fromEntries(STANDARD_FIELDS.map((f) => [f, null])) as Record<
    StandardField,
    string | null
  >;
  return { ...attributes, ...overrides };
}

export const anAlias = (aliasName: string, aliasLabel = 'braze_alias'): AliasValue => ({
  aliasLabel,
  aliasName,
});

export const anAnonAlias = (anonId: string): AliasValue => anAlias(anonId, ANON_LABEL);

/** An event summary whose daily counts add up to its count, all on its first day by default. */
export function anEventState(name: string, overrides: Partial<EventState> = {}): EventState {
  const firstAt = overrides.firstAt ?? T0;
  const count = overrides.count ?? 1;
  return {
    name,
    count,
    firstAt,
    lastAt: overrides.lastAt ?? firstAt,
    daily: overrides.daily ?? { [firstAt.toISOString().slice(0, 10)]: count },
  };
}

export const items = {
  alias: (externalId: string, aliasName: string, aliasLabel = 'braze_alias'): IdentifyItem => ({
    kind: 'alias',
    externalId,
    alias: { aliasLabel, aliasName },
  }),
  anonId: (externalId: string, anonId: string): IdentifyItem => ({
    kind: 'anonId',
    externalId,
    anonId,
  }),
  email: (
    externalId: string,
    email: string,
    prioritization: readonly EmailPrioritization[] = ['MOST_RECENTLY_UPDATED'],
  ): IdentifyItem => ({ kind: 'email', externalId, email, prioritization }),
};

export function aSnapshot(
  profiles: readonly ProfileState[],
  overrides: Partial<Omit<Snapshot, 'profiles'>> = {},
): Snapshot {
  return { anonIdLabel: ANON_LABEL, maxIdsPerProfile: 500, profiles, ...overrides };
}

/** A fixed clock and ids `merge-1`, `merge-2`, ... counted from 1 for each new context. */
export function anEngineContext(now: Date = NOW): EngineContext {
  let n = 0;
  return { now, newId: () => `merge-${++n}` };
}

/** UUID v4 values (lower case), usable as anon ids. */
export const ANON_IDS = [
  'e6ab2c5e-2cda-44a9-a962-e2f67df78bca',
  '5d8b8d4c-6a4b-4c7a-9d1e-0b7f2b1f3a11',
  '3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c',
  'a1b2c3d4-e5f6-4a7b-b8c9-d0e1f2a3b4c5',
  '0f1e2d3c-4b5a-4968-a776-655443322110',
] as const;
