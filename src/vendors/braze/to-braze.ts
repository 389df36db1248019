/**
 * Turns outbox items into Braze identity and deletion requests and reads Braze's answers back
 * into per-row outcomes. Pure: the dispatcher does the HTTP and owns the clock.
 */
import type { BrazeSettings } from '../../config/config.js';
import {
  type Classification,
  type ErasureMessage,
  type IdentityMessage,
  isErasure,
  type OutboxItem,
  type VendorRequest,
  type VendorResponse,
} from '../../outbox/message.js';
import {
  isRecord,
  parseJson,
  retryAfterWaitMs,
  secondsToMs,
  truncate,
} from '../../lib/http-answer.js';
import { batchBySize } from '../batch.js';
import { transientVerdict } from '../transient.js';

/**
 * Braze's cap per request, for /users/identify (all arrays together), /users/merge and
 * /users/delete (identifiers, not rows) alike.
 */
const MAX_ENTRIES_PER_REQUEST = 50;
/** Braze documents no Retry-After on every 429, so a missing hint waits out a whole minute. */
const DEFAULT_THROTTLE_MS = 60_000;
/** A broken header must not freeze a workspace for days. */
const MAX_PAUSE_MS = 3_600_000;
/** `queued` is Braze's 202 while it is in maintenance: accepted, processed later. */
const ACCEPTED_MESSAGES = new Set(['success', 'queued']);

type BodyArray = 'aliases_to_identify' | 'emails_to_identify' | 'merge_updates';
/** Body order of the arrays, which is also the order of a request's rowIds. */
const BODY_ARRAYS: readonly BodyArray[] = [
  'aliases_to_identify',
  'emails_to_identify',
  'merge_updates',
];

/** /users/delete takes one kind of identifier per request, so each kind is a group of its own. */
type DeleteArray = 'external_ids' | 'user_aliases';

type Group = 'identify:merge' | 'identify:none' | 'merge' | `delete:${DeleteArray}`;

/** One row as Braze will carry it: an identification or merge, or a deletion of users. */
export type BrazeOperation = BrazeIdentityOperation | BrazeDeletion;

export interface BrazeIdentityOperation {
  readonly kind: 'identity';
  readonly rowId: string;
  readonly group: Exclude<Group, `delete:${string}`>;
  readonly array: BodyArray;
  readonly entry: Record<string, unknown>;
}

/** Every identifier of an erasure row, kept together so that one answer decides the row. */
export interface BrazeDeletion {
  readonly kind: 'delete';
  readonly rowId: string;
  readonly group: `delete:${DeleteArray}`;
  readonly array: DeleteArray;
  readonly ids: readonly (string | UserAlias)[];
}

interface UserAlias {
  readonly alias_name: string;
  readonly alias_label: string;
}

export function buildBrazeRequests(
  items: readonly OutboxItem[],
  settings: BrazeSettings,
): VendorRequest[] {
  return brazeRequests(items.map(brazeOperation), settings);
}

/**
 * Requests for operations translated one by one (a row that cannot be translated fails alone).
 * A deletion without identifiers has nothing to send and appears in no request.
 */
export function brazeRequests(
  operations: readonly BrazeOperation[],
  settings: BrazeSettings,
): VendorRequest[] {
  const groups = new Map<Group, BrazeOperation[]>();
  for (const operation of operations) {
    if (entryCount(operation) === 0) continue;
    const group = groups.get(operation.group);
    if (group) group.push(operation);
    else groups.set(operation.group, [operation]);
  }
  return [...groups].flatMap(([group, part]) =>
    batchBySize(part, entryCount, MAX_ENTRIES_PER_REQUEST).map((b) =>
      toRequest(group, b, settings),
    ),
  );
}

/** How many of a request's 50 entries the operation takes. */
function entryCount(operation: BrazeOperation): number {
  return operation.kind === 'delete' ? operation.ids.length : 1;
}

/** One outbox item as a Braze operation; throws on a message it cannot express. */
export function brazeOperation({ rowId, message }: OutboxItem): BrazeOperation {
  if (isErasure(message)) return brazeDeletion(rowId, message);
  const alias = identifyingAlias(message);
  if (alias && needsUsersMerge(message, alias)) {
    const entry = {
      identifier_to_merge: { user_alias: alias },
      identifier_to_keep: { external_id: message.externalId },
    };
    return { kind: 'identity', rowId, group: 'merge', array: 'merge_updates', entry };
  }
  const group = message.mergeBehavior === 'MERGE' ? 'identify:merge' : 'identify:none';
  if (alias) {
    const entry = { external_id: message.externalId, user_alias: alias };
    return { kind: 'identity', rowId, group, array: 'aliases_to_identify', entry };
  }
  return {
    kind: 'identity',
    rowId,
    group,
    array: 'emails_to_identify',
    entry: emailEntry(message),
  };
}

/**
 * Deleting by external id removes the whole user, aliases included, so aliases are used only
 * for users Braze never knew by an external id. A row that would not fit one request is refused
 * here rather than split (a row travels whole) or sent to a certain refusal.
 */
function brazeDeletion(rowId: string, message: ErasureMessage): BrazeDeletion {
  if (message.action !== 'braze.users') {
    throw new Error(`braze cannot carry a ${message.action} deletion`);
  }
  const deletion: BrazeDeletion =
    message.externalIds.length > 0
      ? {
          kind: 'delete',
          rowId,
          group: 'delete:external_ids',
          array: 'external_ids',
          ids: message.externalIds,
        }
      : {
          kind: 'delete',
          rowId,
          group: 'delete:user_aliases',
          array: 'user_aliases',
          ids: message.aliases.map((a) => ({ alias_name: a.aliasName, alias_label: a.aliasLabel })),
        };
  if (deletion.ids.length > MAX_ENTRIES_PER_REQUEST) {
    throw new Error(
      `braze deletes at most ${MAX_ENTRIES_PER_REQUEST} users per request; the row holds ${deletion.ids.length} ${deletion.array}`,
    );
  }
  return deletion;
}

/** The alias Braze knows the unidentified profile by; anon ids live under the workspace's label. */
function identifyingAlias({ identifier, anonIdLabel }: IdentityMessage): UserAlias | null {
  if (identifier.kind === 'alias') {
    return { alias_name: identifier.aliasName, alias_label: identifier.aliasLabel };
  }
  if (identifier.kind === 'anonId') {
    return { alias_name: identifier.anonId, alias_label: anonIdLabel };
  }
  return null;
}

/**
 * Braze keeps one alias per label on a user, so /users/identify silently leaves the profiles
 * apart when the survivor already holds that label; /users/merge has no such rule.
 */
function needsUsersMerge(message: IdentityMessage, alias: UserAlias): boolean {
  return (
    message.type === 'identity.profiles_merged.v1' &&
    message.survivorAliasLabels.includes(alias.alias_label)
  );
}

function emailEntry(message: IdentityMessage): Record<string, unknown> {
  if (message.identifier.kind !== 'email') throw new Error('emailEntry needs an email identifier');
  return {
    external_id: message.externalId,
    email: message.identifier.email,
    prioritization: message.identifier.prioritization.map((p) => p.toLowerCase()),
  };
}

function toRequest(
  group: Group,
  operations: readonly BrazeOperation[],
  settings: BrazeSettings,
): VendorRequest {
  const deletions = operations.filter((o) => o.kind === 'delete');
  if (deletions.length > 0) return toDeleteRequest(deletions, settings);
  const identities = operations.filter((o) => o.kind === 'identity');
  return toIdentityRequest(group, identities, settings);
}

function toIdentityRequest(
  group: Group,
  operations: readonly BrazeIdentityOperation[],
  settings: BrazeSettings,
): VendorRequest {
  const body: Record<string, unknown> = {};
  const rowIds: string[] = [];
  const locate: Record<string, string> = {};
  for (const array of BODY_ARRAYS) {
    const inArray = operations.filter((o) => o.array === array);
    if (inArray.length === 0) continue;
    body[array] = inArray.map((o) => o.entry);
    inArray.forEach((o, index) => {
      rowIds.push(o.rowId);
      locate[`${array}:${index}`] = o.rowId;
    });
  }
  // Braze's default has been `none`; sending it explicitly keeps the store and Braze in step.
  if (group !== 'merge') body['merge_behavior'] = group === 'identify:merge' ? 'merge' : 'none';
  const path = group === 'merge' ? '/users/merge' : '/users/identify';
  return { ...endpoint(path, settings), body: JSON.stringify(body), rowIds, locate };
}

/** The group holds one kind of identifier, so the body has exactly one array. */
function toDeleteRequest(
  deletions: readonly BrazeDeletion[],
  settings: BrazeSettings,
): VendorRequest {
  const { array } = deletions[0];
  const ids: (string | UserAlias)[] = [];
  const locate: Record<string, string> = {};
  for (const deletion of deletions) {
    for (const id of deletion.ids) locate[`${array}:${ids.push(id) - 1}`] = deletion.rowId;
  }
  return {
    ...endpoint('/users/delete', settings),
    body: JSON.stringify({ [array]: ids }),
    rowIds: deletions.map((d) => d.rowId),
    locate,
  };
}

function endpoint(path: string, settings: BrazeSettings): Pick<VendorRequest, 'url' | 'headers'> {
  return {
    url: settings.restEndpoint.replace(/\/+$/, '') + path,
    headers: {
      'content-type': 'application/json',
      accept: 'application/json',
      authorization: `Bearer ${settings.apiKey}`,
    },
  };
}

export function classifyBrazeResponse(
  request: VendorRequest,
  response: VendorResponse,
  nowMs: number,
): Classification {
  const transient = transientVerdict(response, describe(response), () =>
    throttlePauseMs(response, nowMs),
  );
  if (transient) return transient;
  const { status } = response;
  if (status >= 200 && status < 300) return classifyAccepted(request, response);
  return { kind: 'dead', error: describe(response) };
}

function classifyAccepted(request: VendorRequest, response: VendorResponse): Classification {
  if (response.body.trim() === '') return { kind: 'delivered' };
  const body = parseJson(response.body);
  if (!isRecord(body)) {
    // Not Braze speaking (a proxy page?); identify, merge and delete are all safe to repeat.
    return { kind: 'retry', error: `${describe(response)} (unreadable body)`, pauseMs: null };
  }
  const message =
    typeof body['message'] === 'string' ? body['message'] : JSON.stringify(body['message']);
  if (message !== undefined && !ACCEPTED_MESSAGES.has(message.toLowerCase())) {
    return { kind: 'dead', error: `braze ${response.status}: ${message}` };
  }
  return classifyItemErrors(request, body['errors']);
}

/**
 * Located errors fail only their rows; plain strings are warnings. An error Braze places
 * outside our arrays (`user_identifiers`) names no row, so the whole request is reported dead
 * rather than claiming rows were delivered that may not have been.
 */
function classifyItemErrors(request: VendorRequest, errors: unknown): Classification {
  if (!Array.isArray(errors)) return { kind: 'delivered' };
  const failed = new Map<string, string>();
  for (const error of errors as unknown[]) {
    if (typeof error === 'string') continue;
    const text = `braze: ${errorText(error)}`;
    const rowId = locateError(request, error);
    if (rowId === undefined) return { kind: 'dead', error: text };
    const earlier = failed.get(rowId);
    failed.set(rowId, earlier === undefined ? text : `${earlier}; ${text}`);
  }
  return failed.size > 0 ? { kind: 'partial', failed } : { kind: 'delivered' };
}

function locateError(request: VendorRequest, error: unknown): string | undefined {
  if (!isRecord(error)) return undefined;
  const { input_array: array, index } = error;
  if (typeof array !== 'string' || typeof index !== 'number') return undefined;
  return request.locate[`${array}:${index}`];
}

function errorText(error: unknown): string {
  if (isRecord(error) && typeof error['type'] === 'string') return error['type'];
  return truncate(JSON.stringify(error) ?? String(error));
}

function describe({ status, body }: VendorResponse): string {
  const parsed = parseJson(body);
  const message = isRecord(parsed) ? parsed['message'] : undefined;
  const text = typeof message === 'string' ? message : truncate(body.trim());
  return text === '' ? `braze ${status}` : `braze ${status}: ${text}`;
}

/**
 * How long the whole workspace should stop calling Braze after this response, or null to carry
 * on: a 429 always pauses; any other response pauses only when it spent the window's last call.
 */
export function brazePauseMs(response: VendorResponse, nowMs: number): number | null {
  if (response.status === 429) return throttlePauseMs(response, nowMs);
  const remaining = header(response.headers, 'x-ratelimit-remaining');
  if (remaining === undefined || remaining === '' || Number(remaining) !== 0) return null;
  const reset = header(response.headers, 'x-ratelimit-reset');
  const waitMs = reset === undefined ? null : resetWaitMs(reset, nowMs);
  return waitMs !== null && waitMs > 0 ? clampPause(waitMs) : null;
}

/** Braze sends X-Ratelimit-Retry-After on 429 and X-RateLimit-Reset elsewhere; read any. */
function throttlePauseMs({ headers }: VendorResponse, nowMs: number): number {
  const retryAfter = header(headers, 'retry-after');
  const brazeRetryAfter = header(headers, 'x-ratelimit-retry-after');
  const reset = header(headers, 'x-ratelimit-reset');
  const waitMs =
    (retryAfter === undefined ? null : retryAfterWaitMs(retryAfter, nowMs)) ??
    (brazeRetryAfter === undefined ? null : secondsToMs(brazeRetryAfter)) ??
    (reset === undefined ? null : resetWaitMs(reset, nowMs));
  return clampPause(waitMs ?? DEFAULT_THROTTLE_MS);
}

/** The client lower-cases header names, but a hand-built response need not. */
function header(headers: Readonly<Record<string, string>>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return value.trim();
  }
  return undefined;
}

/**
 * Braze documents epoch seconds; a small value can only be a delta (as in the IETF RateLimit
 * drafts), and reading it as an epoch would mean "long past" and no pause at all.
 */
function resetWaitMs(value: string, nowMs: number): number | null {
  const ms = secondsToMs(value);
  if (ms === null) return null;
  return ms >= 1e12 ? ms - nowMs : ms;
}

function clampPause(ms: number): number {
  return Math.min(Math.max(Math.ceil(ms), 0), MAX_PAUSE_MS);
}
