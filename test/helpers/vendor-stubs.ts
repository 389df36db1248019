/**
 * Local stand-ins for Mixpanel and Braze: HTTP servers that check each request against the
 * vendor's wire format, record it, and answer as told (success, 429 with a throttle header, 500,
 * 400, per-item errors, a hang, or a reset connection).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StubRequest {
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  /** The JSON payload: Braze's body, Mixpanel's event array (from `data=` or the body). */
  readonly payload: any;
  /** What the stub answered ('hang' and 'reset' included). */
  answer: string;
  /** Wire-format problems found; a request with any is answered 400. */
  readonly violations: string[];
}

export type Fault =
  | { readonly kind: 'ok' }
  | {
      readonly kind: 'status';
      readonly status: number;
      readonly headers?: Record<string, string>;
      readonly body?: unknown;
    }
  | { readonly kind: 'hang' }
  /** Answers as `ok` would, after `ms`. */
  | { readonly kind: 'slow'; readonly ms: number }
  | { readonly kind: 'reset' };

export interface VendorStub {
  readonly url: string;
  readonly requests: StubRequest[];
  /**
   * Answers for the next requests whose body contains `needle`, in order (so tests that share a
   * stub do not take each other's faults); other requests get `fallback` (default ok).
   */
  queue(needle: string, ...faults: Fault[]): void;
  fallback: Fault;
  /** Releases requests that were told to hang (they get a 503). */
  /** Answers every hanging request: 503 by default, or as the vendor accepts it. */
  releaseHanging(answer?: 'failure' | 'success'): void;
  close(): Promise<void>;
}

type Checker = (req: StubRequest) => void;
type Success = (req: StubRequest) => unknown;

async function startStub(
  check: Checker,
  success: Success,
  successStatus: number,
): Promise<VendorStub> {
  const requests: StubRequest[] = [];
  const planned: { needle: string; faults: Fault[] }[] = [];
  const hanging: { res: ServerResponse; record: StubRequest }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://stub');
      const body = Buffer.concat(chunks).toString('utf8');
      const record: StubRequest = {
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body,
        payload: undefined,
        answer: '',
        violations: [],
      };
      check(record);
      requests.push(record);
      const plan = planned.find((p) => p.faults.length > 0 && body.includes(p.needle));
      const fault = plan?.faults.shift() ?? stub.fallback;
      if (record.violations.length > 0) {
        record.answer = '400 wire format';
        return send(res, 400, {
          message: record.violations.join('; '),
          error: record.violations.join('; '),
        });
      }
      record.answer = fault.kind === 'status' ? String(fault.status) : fault.kind;
      switch (fault.kind) {
        case 'ok':
          return send(res, successStatus, success(record));
        case 'status':
          return send(res, fault.status, fault.body ?? {}, fault.headers);
        case 'hang':
          hanging.push({ res, record });
          return;
        case 'slow':
          setTimeout(() => send(res, successStatus, success(record)), fault.ms);
          return;
        case 'reset':
          req.socket.destroy();
          return;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const stub: VendorStub = {
    url: `http://127.0.0.1:${port}`,
    requests,
    fallback: { kind: 'ok' },
    queue: (needle, ...faults) => {
      planned.push({ needle, faults });
    },
    releaseHanging: (answer = 'failure') => {
      for (const { res, record } of hanging.splice(0)) {
        if (res.writableEnded) continue;
        if (answer === 'success') {
          record.answer = 'ok';
          send(res, successStatus, success(record));
        } else {
          send(res, 503, {});
        }
      }
    },
    close: async () => {
      stub.releaseHanging();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return stub;
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  if (res.writableEnded || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

function parseJson(text: string, req: StubRequest): any {
  try {
    return JSON.parse(text);
  } catch {
    req.violations.push('body is not JSON');
    return undefined;
  }
}

function set(req: StubRequest, payload: unknown) {
  (req as { payload: unknown }).payload = payload;
}

/** Braze REST: JSON, Bearer key, explicit merge_behavior, at most 50 identifiers per call. */
export function startBrazeStub(apiKey: string): Promise<VendorStub> {
  const check: Checker = (req) => {
    const v = req.violations;
    if (!String(req.headers['content-type']).startsWith('application/json'))
      v.push('content-type must be application/json');
    if (req.headers.authorization !== `Bearer ${apiKey}`)
      v.push('authorization must be Bearer <REST API key>');
    const body = parseJson(req.body, req);
    set(req, body);
    if (!body) return;
    if (req.path === '/users/identify') {
      const aliases = body.aliases_to_identify ?? [];
      const emails = body.emails_to_identify ?? [];
      if (!aliases.length && !emails.length)
        v.push('one of aliases_to_identify, emails_to_identify is required');
      if (aliases.length + emails.length > 50)
        v.push('The max number of external_ids and aliases per request was exceeded');
      if (!['merge', 'none'].includes(body.merge_behavior))
        v.push('merge_behavior must be sent as merge or none');
      for (const a of aliases) {
        if (
          typeof a.external_id !== 'string' ||
          typeof a.user_alias?.alias_name !== 'string' ||
          typeof a.user_alias?.alias_label !== 'string'
        ) {
          v.push(
            'aliases_to_identify entries need external_id and user_alias {alias_name, alias_label}',
          );
        }
      }
      const allowed = [
        'identified',
        'unidentified',
        'most_recently_updated',
        'least_recently_updated',
      ];
      for (const e of emails) {
        if (
          typeof e.external_id !== 'string' ||
          typeof e.email !== 'string' ||
          !Array.isArray(e.prioritization) ||
          e.prioritization.some((p: string) => !allowed.includes(p))
        ) {
          v.push('emails_to_identify entries need external_id, email and prioritization');
        }
      }
    } else if (req.path === '/users/merge') {
      const updates = body.merge_updates ?? [];
      if (!Array.isArray(updates) || updates.length === 0)
        v.push("'merge_updates' must be an array of objects");
      if (updates.length > 50)
        v.push('a single request may not contain more than 50 merge updates');
      for (const u of updates) {
        if (!u.identifier_to_merge || !u.identifier_to_keep)
          v.push("'merge_updates' must only have 'identifier_to_merge' and 'identifier_to_keep'");
      }
    } else if (req.path === '/users/delete') {
      const kinds = [
        'external_ids',
        'user_aliases',
        'braze_ids',
        'email_addresses',
        'phone_numbers',
      ];
      const given = kinds.filter((k) => body[k] !== undefined);
      if (given.length !== 1) v.push('send exactly one kind of identifier per request');
      const ids = given.length === 1 ? body[given[0]] : [];
      if (!Array.isArray(ids) || ids.length === 0) v.push(`${given[0]} must be a non-empty array`);
      else if (ids.length > 50) v.push('at most 50 identifiers per request');
      if (given[0] === 'external_ids' && ids.some((id: unknown) => typeof id !== 'string'))
        v.push('external_ids must be strings');
      if (
        given[0] === 'user_aliases' &&
        ids.some(
          (a: any) => typeof a?.alias_name !== 'string' || typeof a?.alias_label !== 'string',
        )
      ) {
        v.push('user_aliases entries need alias_name and alias_label');
      }
    } else {
      v.push(`unexpected path ${req.path}`);
    }
  };
  const success: Success = (req) =>
    req.path === '/users/delete'
      ? {
          deleted: (req.payload?.external_ids ?? req.payload?.user_aliases ?? []).length,
          message: 'success',
        }
      : { message: 'success', aliases_processed: req.payload?.aliases_to_identify?.length ?? 0 };
  return startStub(check, success, 201);
}

/** The GDPR data deletion path of Mixpanel's application API. */
export const MIXPANEL_DATA_DELETIONS = '/api/app/data-deletions/v3.0/';

/**
 * Mixpanel: ingestion (/track as data= form with verbose=1, or /import?strict=1 with Basic
 * auth), profile deletions (/engage, JSON), and GDPR data deletions (Bearer GDPR token), all on
 * one stub (tests point both the ingestion and the GDPR host at it).
 */
export function startMixpanelStub(token: string, gdprToken = 'gdpr-token'): Promise<VendorStub> {
  const check: Checker = (req) => {
    const v = req.violations;
    let events: any;
    if (req.path === '/engage') {
      const updates = parseJson(req.body, req);
      set(req, updates);
      if (!String(req.headers['content-type']).startsWith('application/json'))
        v.push('content-type must be application/json');
      if (!Array.isArray(updates) || updates.length === 0) v.push('updates must be an array');
      else if (updates.length > 2000) v.push('at most 2000 updates per request');
      for (const u of Array.isArray(updates) ? updates : []) {
        if (u?.$token !== token) v.push('$token must be the project token');
        if (typeof u?.$distinct_id !== 'string' || !u.$distinct_id)
          v.push('$distinct_id is required');
        if (!('$delete' in (u ?? {}))) v.push('expected a $delete update');
      }
      return;
    }
    if (req.path === MIXPANEL_DATA_DELETIONS) {
      const body = parseJson(req.body, req);
      set(req, body);
      if (req.query.get('token') !== token)
        v.push('token query parameter must be the project token');
      if (req.headers.authorization !== `Bearer ${gdprToken}`)
        v.push('authorization must be Bearer <GDPR OAuth token>');
      const ids = body?.distinct_ids;
      if (!Array.isArray(ids) || ids.length === 0) v.push('distinct_ids must be a non-empty array');
      else if (ids.length > 2000) v.push('at most 2000 distinct ids per request');
      if (!['GDPR', 'CCPA'].includes(body?.compliance_type))
        v.push('compliance_type must be GDPR or CCPA');
      return;
    }
    if (req.path === '/track') {
      if (!String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded'))
        v.push('content-type must be form-urlencoded');
      if (req.query.get('verbose') !== '1') v.push('send verbose=1');
      const data = new URLSearchParams(req.body).get('data');
      if (data === null) v.push('form field data is missing');
      else events = parseJson(data, req);
    } else if (req.path === '/import') {
      if (!String(req.headers['content-type']).startsWith('application/json'))
        v.push('content-type must be application/json');
      if (req.query.get('strict') !== '1') v.push('send strict=1');
      if (!String(req.headers.authorization).startsWith('Basic ')) v.push('Basic auth is required');
      events = parseJson(req.body, req);
    } else {
      v.push(`unexpected path ${req.path}`);
    }
    set(req, events);
    if (!Array.isArray(events)) {
      v.push('events must be an array');
      return;
    }
    if (events.length > 2000) v.push('at most 2000 events per request');
    for (const e of events) {
      const p = e?.properties ?? {};
      if (p.token !== token) v.push('properties.token must be the project token');
      if (typeof p.distinct_id !== 'string' || !p.distinct_id)
        v.push('properties.distinct_id is required');
      if (typeof p.$insert_id !== 'string' || !/^[A-Za-z0-9-]{1,36}$/.test(p.$insert_id))
        v.push('$insert_id: at most 36 of [A-Za-z0-9-]');
      if (typeof p.time !== 'number') v.push('properties.time must be a number');
      if (
        e.event === '$identify' &&
        (typeof p.$identified_id !== 'string' || typeof p.$anon_id !== 'string')
      ) {
        v.push('$identify needs $identified_id and $anon_id');
      }
    }
  };
  let task = 1583792934719392965n;
  const success: Success = (req) => {
    if (req.path === '/track' || req.path === '/engage') return { status: 1, error: null };
    if (req.path === MIXPANEL_DATA_DELETIONS) {
      task += 1n;
      return {
        status: 'ok',
        results: [
          {
            status: 'PENDING',
            tracking_id: String(task),
            compliance_type: 'gdpr',
            distinct_id_count: req.payload.distinct_ids.length,
          },
        ],
      };
    }
    return { code: 200, num_records_imported: req.payload.length, status: 'OK' };
  };
  return startStub(check, success, 200);
}
