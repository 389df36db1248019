/**
 * The vendor-neutral message an outbox row carries: one identity change, with everything a
 * vendor translator needs and nothing vendor-specific. Dotted and versioned, so a stored row
 * keeps its meaning when the shape grows.
 */

export type MessageType = 'identity.identified.v1' | 'identity.profiles_merged.v1';

/** The type of a vendor deletion, written by an erasure (see ErasureMessage). */
export const ERASED_TYPE = 'identity.erased.v1';

export type IdentifierInMessage =
  | { readonly kind: 'alias'; readonly aliasLabel: string; readonly aliasName: string }
  | {
      readonly kind: 'email';
      readonly email: string;
      readonly prioritization: readonly (
        'IDENTIFIED' | 'UNIDENTIFIED' | 'MOST_RECENTLY_UPDATED' | 'LEAST_RECENTLY_UPDATED'
      )[];
    }
  | { readonly kind: 'anonId'; readonly anonId: string };

export interface IdentityMessage {
  readonly type: MessageType;
  /** Stable id of the change: the merge id for a merge, a fresh id for an identification. */
  readonly changeId: string;
  readonly workspaceId: string;
  /** When the change was committed (ISO 8601); Mixpanel's event time. */
  readonly occurredAt: string;
  readonly externalId: string;
  /** The profile identified by externalId afterwards (the survivor of a merge). */
  readonly profileId: string;
  readonly absorbedProfileId: string | null;
  readonly mergeBehavior: 'MERGE' | 'NONE';
  /** What the caller identified by. */
  readonly identifier: IdentifierInMessage;
  /** The workspace's anon-id label: anon ids are Braze aliases under it. */
  readonly anonIdLabel: string;
  /** Anon ids that now belong to externalId through this change (Mixpanel $identify each). */
  readonly anonIds: readonly string[];
  /** Other aliases that moved with it. */
  readonly aliases: readonly { readonly aliasLabel: string; readonly aliasName: string }[];
  /** Alias labels the surviving profile held before the change (Braze: one alias per label). */
  readonly survivorAliasLabels: readonly string[];
}

/**
 * A vendor deletion of a forgotten person, one row per request's worth of identifiers (Braze: at
 * most 50, Mixpanel: at most 2,000), filed under the erasure's id. The identifiers are scrubbed
 * from the row once it is delivered or skipped.
 */
export interface ErasureMessage {
  readonly type: typeof ERASED_TYPE;
  /** The erasure's id. */
  readonly changeId: string;
  readonly workspaceId: string;
  readonly occurredAt: string;
  /**
   * What the row asks of its vendor. `braze.users`: `/users/delete` by `externalIds`, or by
   * `aliases` when there are none (one kind per request). `mixpanel.profiles`: `/engage`
   * `$delete` (with `$ignore_alias`) of every id in `distinctIds`. `mixpanel.data`: a GDPR data
   * deletion task for `distinctIds` (events included).
   */
  readonly action: 'braze.users' | 'mixpanel.profiles' | 'mixpanel.data';
  readonly externalIds: readonly string[];
  readonly aliases: readonly { readonly aliasLabel: string; readonly aliasName: string }[];
  readonly distinctIds: readonly string[];
}

/** What an outbox row carries. */
export type OutboxMessage = IdentityMessage | ErasureMessage;

export function isErasure(message: OutboxMessage): message is ErasureMessage {
  return message.type === ERASED_TYPE;
}

export type VendorName = 'MIXPANEL' | 'BRAZE';

/** Every vendor the gateway delivers to: a change has at most one delivery for each. */
export const VENDOR_NAMES: readonly VendorName[] = ['BRAZE', 'MIXPANEL'];

/** A message as the dispatcher hands it to a translator: with the row it came from. */
export interface OutboxItem {
  readonly rowId: string;
  readonly dedupeKey: string;
  readonly message: OutboxMessage;
}

/** What a vendor's answer means for each row of a request. */
export type Classification =
  /** `reference`: what the vendor calls the work it took on (Mixpanel's deletion task id). */
  | { readonly kind: 'delivered'; readonly reference?: string }
  /** 2xx, but these rows failed for good (per-item errors); the others were delivered. */
  | { readonly kind: 'partial'; readonly failed: ReadonlyMap<string, string> }
  /** Try again later; `pauseMs` pauses the whole workspace+vendor (throttling). */
  | { readonly kind: 'retry'; readonly error: string; readonly pauseMs: number | null }
  /** Will never succeed as sent. */
  | { readonly kind: 'dead'; readonly error: string };

/** One HTTP request a translator built, and the rows it carries, in body order. */
export interface VendorRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly rowIds: readonly string[];
  /**
   * Where each row sits in the body, so per-item errors map back to rows: keys such as
   * `aliases_to_identify:0`, `emails_to_identify:3`, `merge_updates:1` (Braze) or `index:5` and
   * `insert_id:<id>` (Mixpanel), values the row ids.
   */
  readonly locate: Readonly<Record<string, string>>;
  /**
   * A rate limit of its own the request must fit, besides the vendor's usual ones: Mixpanel's
   * GDPR API takes one request per second per project.
   */
  readonly budget?: 'mixpanel.gdpr';
}

/** An HTTP answer, as the clients see it (headers lower-cased). */
export interface VendorResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}
