/**
 * Turns outbox items into Mixpanel identity events and batched /import or /track requests, and
 * reads Mixpanel's answers back into per-row outcomes. Pure: the dispatcher does the HTTP.
 */
import { createHash } from 'node:crypto';

import type { MixpanelSettings } from '../../config/config.js';
import type {
  Classification,
  IdentityMessage,
  OutboxItem,
  VendorRequest,
  VendorResponse,
} from '../../outbox/message.js';
import { isRecord, parseJson, retryAfterWaitMs, truncate } from '../../lib/http-answer.js';
import { transientVerdict } from '../transient.js';

export type MixpanelEvent = { event: string; properties: Record<string, unknown> };

/** Mixpanel's cap for both /import and /track. */
const MAX_EVENTS_PER_REQUEST = 2000;
/** Simplified ID Merge ignores $identify; any non-reserved name carrying both ids links them. */
const SIMPLIFIED_EVENT_NAME = 'Identity Linked';
const DEVICE_PREFIX = '$device:';
const DEFAULT_THROTTLE_MS = 60_000;
/** A broken header must not freeze a workspace for days. */
const MAX_PAUSE_MS = 3_600_000;

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

export interface MixpanelItemEvents {
  readonly rowId: string;
  readonly events: readonly MixpanelEvent[];
}

/**
 * Rows without anon ids have nothing to send and appear in no request. A row's events stay in
 * one request so that one answer decides the row.
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

/** One outbox item's events; throws on a message it cannot express. */
export function mixpanelItem(item: OutboxItem, settings: MixpanelSettings): MixpanelItemEvents {
  return { rowId: item.rowId, events: mixpanelEvents(item.message, settings) };
}

/** Requests for items translated one by one (a row that cannot be translated fails alone). */
export function mixpanelRequests(
  items: readonly MixpanelItemEvents[],
  settings: MixpanelSettings,
): VendorRequest[] {
  return batch(items.filter((item) => item.events.length > 0)).map((part) =>
    toRequest(part, settings),
  );
}

/** An item with more events than a request holds goes alone; Mixpanel's refusal then fails it. */
function batch(items: readonly MixpanelItemEvents[]): MixpanelItemEvents[][] {
  const batches: MixpanelItemEvents[][] = [];
  let current: MixpanelItemEvents[] = [];
  let size = 0;
  for (const item of items) {
    if (current.length > 0 && size + item.events.length > MAX_EVENTS_PER_REQUEST) {
      batches.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += item.events.length;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

function toRequest(
  items: readonly MixpanelItemEvents[],
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

export function classifyMixpanelResponse(
  request: VendorRequest,
  response: VendorResponse,
  nowMs: number,
): Classification {
  const transient = transientVerdict(response, describe(response), () =>
    throttlePauseMs(response, nowMs),
  );
  if (transient) return transient;
  const { status } = response;
  if (isImport(request)) return classifyImport(request, response);
  if (status >= 200 && status < 300) return classifyTrack(response);
  return { kind: 'dead', error: describe(response) };
}

function isImport(request: VendorRequest): boolean {
  return new URL(request.url).pathname.replace(/\/+$/, '').endsWith('/import');
}

/**
 * With verbose=1 only `status: 1` means the events were taken; Mixpanel refuses a well-formed
 * request the same way every time, so a refusal is final. A bare `1` is the non-verbose success.
 */
function classifyTrack(response: VendorResponse): Classification {
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

/** Mixpanel sends a back-off hint only in prose; honour a Retry-After if a proxy adds one. */
function throttlePauseMs({ headers }: VendorResponse, nowMs: number): number {
  const retryAfter = header(headers, 'retry-after');
  const waitMs = retryAfter === undefined ? null : retryAfterWaitMs(retryAfter, nowMs);
  return Math.min(Math.max(Math.ceil(waitMs ?? DEFAULT_THROTTLE_MS), 0), MAX_PAUSE_MS);
}

/** The client lower-cases header names, but a hand-built response need not. */
function header(headers: Readonly<Record<string, string>>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return value.trim();
  }
  return undefined;
}
