/**
 * The plain data the merge engine works on: profiles as complete snapshots, identify requests,
 * and the plan the engine returns. No database or API types appear here.
 */

export const STANDARD_FIELDS = [
  'email',
  'firstName',
  'lastName',
  'gender',
  'dateOfBirth',
  'phone',
  'timeZone',
  'homeCity',
  'country',
  'language',
] as const;

export type StandardField = (typeof STANDARD_FIELDS)[number];

export interface AliasValue {
  readonly aliasLabel: string;
  readonly aliasName: string;
}

export interface EventState {
  readonly name: string;
  readonly count: number;
  readonly firstAt: Date;
  readonly lastAt: Date;
  /** UTC day (YYYY-MM-DD) -> occurrences. */
  readonly daily: Readonly<Record<string, number>>;
}

export interface PurchaseState {
  readonly count: number;
  readonly totalCents: number;
  readonly firstAt: Date;
  readonly lastAt: Date;
}

export interface AppState {
  /** '' for sessions sent without an app. */
  readonly appId: string;
  readonly sessionCount: number;
  readonly firstSessionAt: Date;
  readonly lastSessionAt: Date;
  readonly totalSeconds: number;
}

export interface PushTokenState {
  readonly appId: string;
  readonly token: string;
  readonly platform: string | null;
}

/** Everything the gateway knows about one profile. */
export interface ProfileState {
  readonly id: string;
  readonly externalId: string | null;
  readonly attributes: Readonly<Record<StandardField, string | null>>;
  readonly customAttributes: Readonly<Record<string, unknown>>;
  readonly sessionCount: number;
  readonly firstSessionAt: Date | null;
  readonly lastSessionAt: Date | null;
  readonly aliases: readonly AliasValue[];
  readonly events: readonly EventState[];
  readonly purchases: PurchaseState | null;
  readonly pushTokens: readonly PushTokenState[];
  readonly apps: readonly AppState[];
  readonly mergedInto: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export type MergeBehavior = 'MERGE' | 'NONE';

export type EmailPrioritization =
  'IDENTIFIED' | 'UNIDENTIFIED' | 'MOST_RECENTLY_UPDATED' | 'LEAST_RECENTLY_UPDATED';

/** One identifier to attach to an external id, in payload order (aliases, emails, anon ids). */
export type IdentifyItem =
  | { readonly kind: 'alias'; readonly externalId: string; readonly alias: AliasValue }
  | {
      readonly kind: 'email';
      readonly externalId: string;
      readonly email: string;
      readonly prioritization: readonly EmailPrioritization[];
    }
  | { readonly kind: 'anonId'; readonly externalId: string; readonly anonId: string };

export interface IdentifyRequest {
  readonly items: readonly IdentifyItem[];
  readonly mergeBehavior: MergeBehavior;
  /** Identifier keys that were forgotten with suppression: items naming one are refused. */
  readonly forgotten?: ReadonlySet<string>;
}

/**
 * The profiles a request can touch, as loaded under lock: every live profile that holds one of
 * the named identifiers (external ids, aliases, anon ids, emails).
 */
export interface Snapshot {
  readonly anonIdLabel: string;
  readonly maxIdsPerProfile: number;
  readonly profiles: readonly ProfileState[];
}

export interface EngineContext {
  readonly now: Date;
  /** Ids for merges; the caller decides how they are made. */
  readonly newId: () => string;
}

export type Outcome =
  'MERGED' | 'IDENTIFIED' | 'UNCHANGED' | 'NOT_FOUND' | 'AMBIGUOUS' | 'REJECTED';

/** Why an item was REJECTED: a closed vocabulary, listed in docs/api.md. */
export type Reason =
  | 'invalid_external_id'
  | 'invalid_identifier'
  | 'anon_id_not_uuid_v4'
  | 'anon_id_equals_external_id'
  | 'identified_by_other_external_id'
  | 'too_many_identifiers'
  /** The external id or the identifier was forgotten (forgetUsers with suppression). */
  | 'FORGOTTEN';

export interface ItemResult {
  readonly index: number;
  readonly externalId: string;
  readonly outcome: Outcome;
  readonly reason: Reason | null;
  /** The profile that holds the identifier afterwards (survivor or newly identified). */
  readonly profileId: string | null;
  readonly mergeId: string | null;
}

/** One journal entry: a merge with both prior states. */
export interface MergeRecord {
  readonly id: string;
  readonly behavior: MergeBehavior;
  readonly survivorId: string;
  readonly absorbedId: string;
  readonly externalId: string;
  readonly identifier: IdentifierNamed;
  readonly changedFields: readonly string[];
  readonly survivorBefore: ProfileState;
  readonly absorbedBefore: ProfileState;
}

export type IdentifierNamed =
  | { readonly kind: 'alias'; readonly aliasLabel: string; readonly aliasName: string }
  | {
      readonly kind: 'email';
      readonly email: string;
      readonly prioritization: readonly EmailPrioritization[];
    }
  | { readonly kind: 'anonId'; readonly anonId: string };

/**
 * What changed, in vendor-neutral terms: enough for each vendor's translator to say the same
 * thing in its own API.
 */
export interface IdentityChange {
  readonly kind: 'identified' | 'merged';
  readonly index: number;
  readonly mergeId: string | null;
  readonly externalId: string;
  /** The profile identified by externalId afterwards. */
  readonly profileId: string;
  readonly absorbedProfileId: string | null;
  readonly behavior: MergeBehavior;
  readonly identifier: IdentifierNamed;
  /** Anon ids that now belong to the identified profile through this change. */
  readonly anonIds: readonly string[];
  /** The aliases (other than anon ids) of the profile that moved to or became externalId. */
  readonly aliases: readonly AliasValue[];
  /** Alias labels the identified profile held before this change. */
  readonly survivorAliasLabels: readonly string[];
}

export interface Plan {
  readonly results: readonly ItemResult[];
  /** Final states of every profile the plan changes, absorbed ones included (as tombstones). */
  readonly changed: readonly ProfileState[];
  readonly merges: readonly MergeRecord[];
  readonly changes: readonly IdentityChange[];
}
