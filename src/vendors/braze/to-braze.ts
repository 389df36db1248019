/**
 * Turns outbox items into Braze identity requests and reads Braze's answers back into per-row
 * outcomes. Pure: the dispatcher does the HTTP and owns the clock.
 */
import type { BrazeSettings } from '../../config/config.js';
import type {
  Classification,
  IdentityMessage,
  OutboxItem,
  VendorRequest,
  VendorResponse,
} from '../../outbox/message.js';
import {
  isRecord,
  parseJson,
  retryAfterWaitMs,
  secondsToMs,
  truncate,
} from '../../lib/http-answer.js';
import { transientVerdict } from '../transient.js';

/** Braze's cap per request, for /users/identify (all arrays together) and /users/merge alike. */
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

type Group = 'identify:merge' | 'identify:none' | 'merge';

export interface BrazeOperation {
  readonly rowId: string;
  readonly group: Group;
  readonly array: BodyArray;
  readonly entry: Record<string, unknown>;
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

/** Requests for operations translated one by one (a row that cannot be translated fails alone). */
export function brazeRequests(
  operations: readonly BrazeOperation[],
  settings: BrazeSettings,
): VendorRequest[] {
  const groups = new Map<Group, BrazeOperation[]>();
  for (const operation of operations) {
    const group = groups.get(operation.group);
    if (group) group.push(operation);
    else groups.set(operation.group, [operation]);
  }
  return [...groups].flatMap(([group, part]) =>
    chunk(part, MAX_ENTRIES_PER_REQUEST).map((c) => toRequest(group, c, settings)),
  );
}

/** One outbox item as a Braze operation; throws on a message it cannot express. */
export function brazeOperation({ rowId, message }: OutboxItem): BrazeOperation {
  const alias = identifyingAlias(message);
  if (alias && needsUsersMerge(message, alias)) {
    const entry = {
      identifier_to_merge: { user_alias: alias },
      identifier_to_keep: { external_id: message.externalId },
    };
    return { rowId, group: 'merge', array: 'merge_updates', entry };
  }
  const group = message.mergeBehavior === 'MERGE' ? 'identify:merge' : 'identify:none';
  if (alias) {
    const entry = { external_id: message.externalId, user_alias: alias };
    return { rowId, group, array: 'aliases_to_identify', entry };
  }
  return { rowId, group, array: 'emails_to_identify', entry: emailEntry(message) };
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
  return {
    url: settings.restEndpoint.replace(/\/+$/, '') + path,
    headers: {
      'content-type': 'application/json',
      accept: 'application/json',
      authorization: `Bearer ${settings.apiKey}`,
    },
    body: JSON.stringify(body),
    rowIds,
    locate,
  };
}

function chunk<T>(values: readonly T[], size: number): T[][] {
  const parts: T[][] = [];
  for (let i = 0; i < values.length; i += size) parts.push(values.slice(i, i + size));
  return parts;
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
    // Not Braze speaking (a proxy page?); identify and merge are safe to repeat.
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
