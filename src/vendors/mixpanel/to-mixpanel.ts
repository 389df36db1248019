/**
 * Turns outbox items into Mixpanel identity events and batched /import or /track requests, and
 * erasures into /engage profile deletions and GDPR data deletions; reads Mixpanel's answers back
 * into per-row outcomes. Pure: the dispatcher does the HTTP.
 */
import { createHash } from 'node:crypto';

import type { MixpanelSettings } from '../../config/config.js';
import {
  type Classification,
  type ErasureMessage,
  type IdentityMessage,
  isErasure,
  type OutboxItem,
  type VendorRequest,
  type VendorResponse,
} from '../../outbox/message.js';
import { isRecord, parseJson, retryAfterWaitMs, truncate } from '../../lib/http-answer.js';
import { batchBySize } from '../batch.js';
import { transientVerdict } from '../transient.js';

export type MixpanelEvent = { event: string; properties: Record<string, unknown> };

/** Mixpanel's cap for /import and /track (events), /engage (updates) and GDPR (distinct ids). */
const MAX_ENTRIES_PER_REQUEST = 2000;
/** Simplified ID Merge ignores $identify; any non-reserved name carrying both ids links them. */
const SIMPLIFIED_EVENT_NAME = 'Identity Linked';
const DEVICE_PREFIX = '$device:';
const DEFAULT_THROTTLE_MS = 60_000;
/** The GDPR API allows one request per second per project: a throttle there is short. */
const GDPR_THROTTLE_MS = 1_000;
/** A broken header must not freeze a workspace for days. */
const MAX_PAUSE_MS = 3_600_000;
const GDPR_PATH = '/api/app/data-deletions/v3.0/';

export function mixpanelEvents(
  message: IdentityMessage,
  settings: MixpanelSettings,
): MixpanelEvent[] {
  const time = eventTime(message.occurredAt);
  return message.anonIds.map((anonId) => {
    const common = {
      distinct_id: message.externalId,
      token: settings.token,
      time,
      $insert_id: insertId(message, anonId),
    };
    if (settings.idMerge === 'SIMPLIFIED') {
      const deviceId = anonId.startsWith(DEVICE_PREFIX)
        ? anonId.slice(DEVICE_PREFIX.length)
        : anonId;
      return {
        event: SIMPLIFIED_EVENT_NAME,
        properties: { $device_id: deviceId, $user_id: message.externalId, ...common },
      };
    }
    return {
      event: '$identify',
      properties: { $identified_id: message.externalId, $anon_id: anonId, ...common },
    };
  });
}

function eventTime(occurredAt: string): number {
  const ms = Date.parse(occurredAt);
  if (Number.isNaN(ms)) throw new Error(`occurredAt is not a date: ${occurredAt}`);
  return ms;
}

/**
 * The same link always gets the same id, so Mixpanel drops a redelivered event; 32 hex chars fit
 * /import's limit of 36 characters of [A-Za-z0-9-].
 */
function insertId(message: IdentityMessage, anonId: string): string {
  const key = `${message.workspaceId}:${message.externalId}:${anonId}`;
  return createHash('sha256').update(key).digest('hex').slice(0, 32);
}

/**
 * One row as Mixpanel will carry it: identity events (/import or /track), profile deletions
 * (/engage) or a data deletion (GDPR API). Each kind travels in requests of its own.
 */
export type MixpanelItemEvents = MixpanelEventsItem | MixpanelDeletion;

export interface MixpanelEventsItem {
  readonly kind: 'events';
  readonly rowId: string;
  readonly events: readonly MixpanelEvent[];
}

/** `profiles`: /engage `$delete` of each id; `data`: a GDPR deletion task, events included. */
export interface MixpanelDeletion {
  readonly kind: 'profiles' | 'data';
  readonly rowId: string;
  readonly distinctIds: readonly string[];
}

/**
 * Rows without anon ids or distinct ids have nothing to send and appear in no request. A row's
 * entries stay in one request so that one answer decides the row.
 */
export function buildMixpanelRequests(
  items: readonly OutboxItem[],
  settings: MixpanelSettings,
): VendorRequest[] {
  return mixpanelRequests(
    items.map((item) => mixpanelItem(item, settings)),
    settings,
  );
}

/** One outbox item's events or deletion; throws on a message it cannot express. */
export function mixpanelItem(item: OutboxItem, settings: MixpanelSettings): MixpanelItemEvents {
  const { rowId, message } = item;
  if (isErasure(message)) return mixpanelDeletion(rowId, message, settings);
  return { kind: 'events', rowId, events: mixpanelEvents(message, settings) };
}

/**
 * A row that would not fit one request is refused here rather than split (a row travels whole)
 * or sent to a certain refusal. A data deletion needs the GDPR API's own token; a row with no
 * ids sends nothing and needs none.
 */
function mixpanelDeletion(
  rowId: string,
  message: ErasureMessage,
  settings: MixpanelSettings,
): MixpanelDeletion {
  const { action, distinctIds } = message;
  if (action !== 'mixpanel.profiles' && action !== 'mixpanel.data') {
    throw new Error(`mixpanel cannot carry a ${action} deletion`);
  }
  if (distinctIds.length > MAX_ENTRIES_PER_REQUEST) {
    throw new Error(
      `mixpanel deletes at most ${MAX_ENTRIES_PER_REQUEST} distinct ids per request; the row holds ${distinctIds.length}`,
    );
  }
  const kind = action === 'mixpanel.data' ? 'data' : 'profiles';
  // Checked per row, so that a workspace without a GDPR token fails these rows and no others.
  if (kind === 'data' && distinctIds.length > 0) gdprEndpoint(settings);
  return { kind, rowId, distinctIds };
}

/**
 * Requests for items translated one by one (a row that cannot be translated fails alone): the
 * events first, then profile deletions, then data deletions, never two kinds in one request.
 */
export function mixpanelRequests(
  items: readonly MixpanelItemEvents[],
  settings: MixpanelSettings,
): VendorRequest[] {
  const events = items.filter((item) => item.kind === 'events');
  const profiles = items.filter(deletionOf('profiles'));
  const data = items.filter(deletionOf('data'));
  return [
    ...batchBySize(events, (item) => item.events.length, MAX_ENTRIES_PER_REQUEST).map((part) =>
      toRequest(part, settings),
    ),
    ...batchBySize(profiles, (item) => item.distinctIds.length, MAX_ENTRIES_PER_REQUEST).map(
      (part) => toProfileDeletion(part, settings),
    ),
    ...batchBySize(data, (item) => item.distinctIds.length, MAX_ENTRIES_PER_REQUEST).map((part) =>
      toDataDeletion(part, settings),
    ),
  ];
}

function deletionOf(kind: MixpanelDeletion['kind']) {
  return (item: MixpanelItemEvents): item is MixpanelDeletion => item.kind === kind;
}

function toRequest(
  items: readonly MixpanelEventsItem[],
  settings: MixpanelSettings,
): VendorRequest {
  const events = items.flatMap((item) => item.events);
  const locate: Record<string, string> = {};
  let index = 0;
  for (const item of items) {
    for (const event of item.events) {
      locate[`index:${index++}`] = item.rowId;
      locate[`insert_id:${String(event.properties['$insert_id'])}`] = item.rowId;
    }
  }
  return { ...endpoint(events, settings), rowIds: items.map((item) => item.rowId), locate };
}

/** /import needs a service account but reports failures per record; /track needs only a token. */
function endpoint(
  events: readonly MixpanelEvent[],
  settings: MixpanelSettings,
): Pick<VendorRequest, 'url' | 'headers' | 'body'> {
  const host = settings.apiHost.replace(/\/+$/, '');
  const json = JSON.stringify(events);
  if (settings.serviceAccount && settings.projectId) {
    const credentials = Buffer.from(settings.serviceAccount).toString('base64');
    return {
      url: `${host}/import?strict=1&project_id=${encodeURIComponent(settings.projectId)}`,
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        authorization: `Basic ${credentials}`,
      },
      body: json,
    };
  }
  return {
    url: `${host}/track?verbose=1`,
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    // The same form encoding as URLSearchParams, done natively (batches run to megabytes).
    body: `data=${encodeURIComponent(json)}`,
  };
}

/**
 * Deletes the profile of every id, and only that profile: `$ignore_alias` keeps Mixpanel from
 * following an alias to another person's profile. /engage needs the project token only.
 */
function toProfileDeletion(
  items: readonly MixpanelDeletion[],
  settings: MixpanelSettings,
): VendorRequest {
  const updates: Record<string, unknown>[] = [];
  const locate: Record<string, string> = {};
  for (const item of items) {
    for (const distinctId of item.distinctIds) {
      const update = {
        $token: settings.token,
        $distinct_id: distinctId,
        $delete: null,
        $ignore_alias: true,
      };
      locate[`index:${updates.push(update) - 1}`] = item.rowId;
    }
  }
  return {
    url: `${settings.apiHost.replace(/\/+$/, '')}/engage?verbose=1`,
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(updates),
    rowIds: items.map((item) => item.rowId),
    locate,
  };
}

/** One GDPR deletion task for the rows' ids, within the API's own budget of a request a second. */
function toDataDeletion(
  items: readonly MixpanelDeletion[],
  settings: MixpanelSettings,
): VendorRequest {
  const distinctIds: string[] = [];
  const locate: Record<string, string> = {};
  for (const item of items) {
    for (const distinctId of item.distinctIds) {
      locate[`distinct_ids:${distinctIds.push(distinctId) - 1}`] = item.rowId;
    }
  }
  const { url, authorization } = gdprEndpoint(settings);
  return {
    url,
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization },
    body: JSON.stringify({ distinct_ids: distinctIds, compliance_type: 'GDPR' }),
    rowIds: items.map((item) => item.rowId),
    locate,
    budget: 'mixpanel.gdpr',
  };
}

/**
 * Where and how a data deletion is sent; throws when the workspace has no GDPR token. Settings
 * alone decide it, so a batch whose rows passed mixpanelItem builds its requests without a throw.
 */
function gdprEndpoint(settings: MixpanelSettings): { url: string; authorization: string } {
  const token = settings.gdprToken?.trim();
  if (!token) throw new Error('no GDPR token is configured for mixpanel');
  return {
    url: `${mixpanelGdprHost(settings)}${GDPR_PATH}?token=${encodeURIComponent(settings.token)}`,
    authorization: `Bearer ${token}`,
  };
}

/**
 * The GDPR API lives on the application host of the project's data residency, not on the
 * ingestion host: the configured host when there is one, else the residency of `apiHost`.
 */
export function mixpanelGdprHost(
  settings: Pick<MixpanelSettings, 'apiHost' | 'gdprApiHost'>,
): string {
  const configured = settings.gdprApiHost?.trim().replace(/\/+$/, '');
  if (configured) return configured;
  const hostname = ingestionHostname(settings.apiHost);
  if (inResidency(hostname, 'eu')) return 'https://eu.mixpanel.com';
  if (inResidency(hostname, 'in')) return 'https://in.mixpanel.com';
  return 'https://mixpanel.com';
}

/** An unreadable host is not a residency: it reads as the default (US) one. */
function ingestionHostname(apiHost: string): string {
  try {
    return new URL(apiHost).hostname.toLowerCase();
  } catch {
    return '';
  }
}

/** `api-eu.mixpanel.com`, or a proxy named after the residency (`eu.…`, `api-eu.…`). */
function inResidency(hostname: string, region: 'eu' | 'in'): boolean {
  return hostname.startsWith(`${region}.`) || hostname.startsWith(`api-${region}.`);
}

export function classifyMixpanelResponse(
  request: VendorRequest,
  response: VendorResponse,
  nowMs: number,
): Classification {
  const path = new URL(request.url).pathname.replace(/\/+$/, '');
  if (path.includes('/data-deletions/')) return classifyDataDeletion(response, nowMs);
  const transient = transientVerdict(response, describe(response), () =>
    throttlePauseMs(response, nowMs, DEFAULT_THROTTLE_MS),
  );
  if (transient) return transient;
  const { status } = response;
  if (path.endsWith('/import')) return classifyImport(request, response);
  // /track and /engage answer alike with verbose=1.
  if (status >= 200 && status < 300) return classifyVerbose(response);
  return { kind: 'dead', error: describe(response) };
}

/**
 * With verbose=1 only `status: 1` means the events or updates were taken; Mixpanel refuses a
 * well-formed request the same way every time, so a refusal is final. A bare `1` is the
 * non-verbose success.
 */
function classifyVerbose(response: VendorResponse): Classification {
  const body = parseJson(response.body);
  if (body === 1 || (isRecord(body) && body['status'] === 1)) return { kind: 'delivered' };
  return { kind: 'dead', error: describe(response) };
}

/** With strict=1 Mixpanel imports the valid records of a batch and lists the others. */
function classifyImport(request: VendorRequest, response: VendorResponse): Classification {
  const { status } = response;
  const body = parseJson(response.body);
  const records = isRecord(body) ? body['failed_records'] : undefined;
  const accepted = status >= 200 && status < 300;
  if ((accepted || status === 400) && Array.isArray(records) && records.length > 0) {
    return classifyFailedRecords(request, records as unknown[]);
  }
  return accepted ? { kind: 'delivered' } : { kind: 'dead', error: describe(response) };
}

/** A record that names no row of ours leaves every row in doubt, so the whole request is dead. */
function classifyFailedRecords(request: VendorRequest, records: unknown[]): Classification {
  const failed = new Map<string, string>();
  for (const record of records) {
    const text = `mixpanel: ${recordText(record)}`;
    const rowId = locateRecord(request, record);
    if (rowId === undefined) return { kind: 'dead', error: text };
    const earlier = failed.get(rowId);
    failed.set(rowId, earlier === undefined ? text : `${earlier}; ${text}`);
  }
  return { kind: 'partial', failed };
}

/** The prose docs key records by `$insert_id`, the OpenAPI schema by `insert_id`. */
function locateRecord(request: VendorRequest, record: unknown): string | undefined {
  if (!isRecord(record)) return undefined;
  const id = record['$insert_id'] ?? record['insert_id'];
  const byId = typeof id === 'string' ? request.locate[`insert_id:${id}`] : undefined;
  const index = record['index'];
  return byId ?? (typeof index === 'number' ? request.locate[`index:${index}`] : undefined);
}

function recordText(record: unknown): string {
  if (!isRecord(record)) return truncate(JSON.stringify(record) ?? String(record));
  const field = typeof record['field'] === 'string' ? record['field'] : 'record';
  const message = typeof record['message'] === 'string' ? record['message'] : 'failed validation';
  return `${field}: ${message}`;
}

function describe({ status, body }: VendorResponse): string {
  const parsed = parseJson(body);
  const error = isRecord(parsed) ? parsed['error'] : undefined;
  const text = typeof error === 'string' && error !== '' ? error : truncate(body.trim());
  return text === '' ? `mixpanel ${status}` : `mixpanel ${status}: ${text}`;
}

/**
 * A created deletion is a task Mixpanel carries out later; its id (`tracking_id` in the
 * documented example, `task_id` in another documented answer) is kept as the reference. Any
 * other 2xx did not create the task. A throttle waits out the API's second unless told longer.
 */
function classifyDataDeletion(response: VendorResponse, nowMs: number): Classification {
  const transient = transientVerdict(response, describe(response), () =>
    throttlePauseMs(response, nowMs, GDPR_THROTTLE_MS),
  );
  if (transient) return transient;
  const { status } = response;
  const body = parseJson(response.body);
  if (status >= 200 && status < 300 && isRecord(body) && body['status'] === 'ok') {
    const reference = taskReference(body['results']);
    return reference === undefined ? { kind: 'delivered' } : { kind: 'delivered', reference };
  }
  return { kind: 'dead', error: describe(response) };
}

/** The first task id among the results: a list of tasks, or one object. */
function taskReference(results: unknown): string | undefined {
  for (const result of Array.isArray(results) ? (results as unknown[]) : [results]) {
    if (!isRecord(result)) continue;
    const id = result['tracking_id'] ?? result['task_id'];
    if (typeof id === 'string' || typeof id === 'number') return String(id);
  }
  return undefined;
}

/** Mixpanel sends a back-off hint only in prose; honour a Retry-After if a proxy adds one. */
function throttlePauseMs({ headers }: VendorResponse, nowMs: number, fallbackMs: number): number {
  const retryAfter = header(headers, 'retry-after');
  const waitMs = retryAfter === undefined ? null : retryAfterWaitMs(retryAfter, nowMs);
  return Math.min(Math.max(Math.ceil(waitMs ?? fallbackMs), 0), MAX_PAUSE_MS);
}

/** The client lower-cases header names, but a hand-built response need not. */
function header(headers: Readonly<Record<string, string>>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return value.trim();
  }
  return undefined;
}
