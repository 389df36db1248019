import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import type { MixpanelSettings } from '../../src/config/config.js';
import { packageRoot } from '../../src/lib/package-root.js';
import {
  type Classification,
  ERASED_TYPE,
  type ErasureMessage,
  type IdentityMessage,
  type OutboxItem,
  type VendorRequest,
  type VendorResponse,
} from '../../src/outbox/message.js';
import {
  buildMixpanelRequests,
  classifyMixpanelResponse,
  mixpanelEvents,
  mixpanelGdprHost,
  mixpanelItem,
  mixpanelRequests,
} from '../../src/vendors/mixpanel/to-mixpanel.js';

// Vendor request and response vectors recorded from peers' tests (see test/fixtures/README.md).
const fixtures = path.resolve(packageRoot(), 'test', 'fixtures');
const readFixture = (name: string): any =>
  JSON.parse(readFileSync(path.join(fixtures, name), 'utf8'));

const ANON = 'e6ab2c5e-2cda-44a9-a962-e2f67df78bca';
const OTHER_ANON = '0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5';
const OCCURRED_AT = '2026-03-01T11:59:00.250Z';
const NOW = Date.parse('2026-03-01T12:00:00.000Z');

const tracking: MixpanelSettings = {
  token: 'mp-token',
  apiHost: 'https://api.mixpanel.com',
  idMerge: 'ORIGINAL',
  serviceAccount: null,
  projectId: null,
};
const importing: MixpanelSettings = {
  ...tracking,
  serviceAccount: 'svc.user:s3cr3t',
  projectId: '12345',
};

function aMessage(overrides: Partial<IdentityMessage> = {}): IdentityMessage {
  return {
    type: 'identity.identified.v1',
    changeId: 'change-1',
    workspaceId: 'ws-1',
    occurredAt: OCCURRED_AT,
    externalId: 'user123',
    profileId: 'profile-1',
    absorbedProfileId: null,
    mergeBehavior: 'MERGE',
    identifier: { kind: 'anonId', anonId: ANON },
    anonIdLabel: 'anon_id',
    anonIds: [ANON],
    aliases: [],
    survivorAliasLabels: [],
    ...overrides,
  };
}

function anItem(rowId: string, overrides: Partial<IdentityMessage> = {}): OutboxItem {
  return { rowId, dedupeKey: `dedupe-${rowId}`, message: aMessage(overrides) };
}

/** Items with `perItem` anon ids each, so a batch boundary can fall inside an item. */
function manyItems(count: number, perItem = 1): OutboxItem[] {
  return Array.from({ length: count }, (_, i) =>
    anItem(`row-${i}`, {
      externalId: `user-${i}`,
      anonIds: Array.from({ length: perItem }, (_, j) => `anon-${i}-${j}`),
    }),
  );
}

function trackedEvents(request: VendorRequest): any[] {
  return JSON.parse(new URLSearchParams(request.body).get('data')!);
}

function response(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): VendorResponse {
  return { status, headers, body: typeof body === 'string' ? body : JSON.stringify(body) };
}

describe('identity events', () => {
  it('sends an ORIGINAL $identify with every field Mixpanel requires', () => {
    const [event, ...rest] = mixpanelEvents(aMessage(), tracking);

    expect(rest).toEqual([]);
    expect(event).toEqual({
      event: '$identify',
      properties: {
        $identified_id: 'user123',
        $anon_id: ANON,
        token: 'mp-token',
        distinct_id: 'user123',
        time: Date.parse(OCCURRED_AT),
        $insert_id: expect.any(String),
      },
    });
  });

  it('keeps a $device: prefix on an ORIGINAL $anon_id as stored', () => {
    const stored = `$device:${ANON}`;
    const [event] = mixpanelEvents(aMessage({ anonIds: [stored] }), tracking);

    expect(event.properties['$anon_id']).toBe(stored);
  });

  it.each([ANON, `$device:${ANON}`])('sends a SIMPLIFIED link event for %s', (anonId) => {
    const [event] = mixpanelEvents(aMessage({ anonIds: [anonId] }), {
      ...tracking,
      idMerge: 'SIMPLIFIED',
    });

    expect(event).toEqual({
      event: 'Identity Linked',
      properties: {
        $device_id: ANON,
        $user_id: 'user123',
        distinct_id: 'user123',
        token: 'mp-token',
        time: Date.parse(OCCURRED_AT),
        $insert_id: expect.any(String),
      },
    });
  });

  it('sends one event per anon id, in order, and none without anon ids', () => {
    const events = mixpanelEvents(aMessage({ anonIds: [ANON, OTHER_ANON] }), tracking);

    expect(events.map((e) => e.properties['$anon_id'])).toEqual([ANON, OTHER_ANON]);
    expect(mixpanelEvents(aMessage({ anonIds: [] }), tracking)).toEqual([]);
  });

  it('matches the segment $identify vector, adding what /import needs', () => {
    const vector = readFixture('mixpanel-identity.json').vectors.find(
      (v: any) => v.id === 'segment-mixpanel-identify-original',
    );
    const { input } = vector;
    const expected = vector.expected_requests[0].form.data;
    const [event] = mixpanelEvents(
      aMessage({ externalId: input.userId, anonIds: [input.anonymousId] }),
      { ...tracking, token: '<MIXPANEL_TOKEN>' },
    );

    expect(event).toMatchObject(expected);
  });
});

describe('$insert_id', () => {
  const idOf = (message: IdentityMessage, idMerge: MixpanelSettings['idMerge'] = 'ORIGINAL') =>
    mixpanelEvents(message, { ...tracking, idMerge })[0].properties['$insert_id'] as string;

  it('fits /import: at most 36 characters of letters, digits and dashes', () => {
    const id = idOf(aMessage({ externalId: 'ü/ser with spaces', anonIds: ['$device:X'] }));

    expect(id.length).toBeLessThanOrEqual(36);
    expect(id).toMatch(/^[A-Za-z0-9-]+$/);
  });

  it('is the sha256 of workspace, external id and anon id', () => {
    const expected = createHash('sha256').update(`ws-1:user123:${ANON}`).digest('hex').slice(0, 32);

    expect(idOf(aMessage())).toBe(expected);
  });

  it('is the same for a redelivery and for either ID-merge system', () => {
    expect(idOf(aMessage())).toBe(idOf(aMessage({ changeId: 'change-2' })));
    expect(idOf(aMessage())).toBe(idOf(aMessage(), 'SIMPLIFIED'));
  });

  it.each<[string, Partial<IdentityMessage>]>([
    ['another workspace', { workspaceId: 'ws-2' }],
    ['another user', { externalId: 'user456' }],
    ['another anon id', { anonIds: [OTHER_ANON] }],
  ])('differs for %s', (_name, overrides) => {
    expect(idOf(aMessage(overrides))).not.toBe(idOf(aMessage()));
  });
});

describe('/track requests', () => {
  it('form-encodes the events as a data field with verbose=1', () => {
    const [request, ...rest] = buildMixpanelRequests(
      [anItem('row-1', { anonIds: [ANON, OTHER_ANON] }), anItem('row-2', { externalId: 'u2' })],
      tracking,
    );

    expect(rest).toEqual([]);
    expect(request.url).toBe('https://api.mixpanel.com/track?verbose=1');
    expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(request.headers).not.toHaveProperty('authorization');
    expect([...new URLSearchParams(request.body).keys()]).toEqual(['data']);
    expect(trackedEvents(request)).toEqual([
      ...mixpanelEvents(aMessage({ anonIds: [ANON, OTHER_ANON] }), tracking),
      ...mixpanelEvents(aMessage({ externalId: 'u2' }), tracking),
    ]);
  });

  it('survives characters that need escaping in a form', () => {
    const externalId = 'a&b=c+d %e/ü';
    const [request] = buildMixpanelRequests([anItem('row-1', { externalId })], tracking);

    expect(trackedEvents(request)[0].properties.$identified_id).toBe(externalId);
  });

  it('matches the segment vector: same content type, url and data', () => {
    const vector = readFixture('mixpanel-identity.json').vectors.find(
      (v: any) => v.id === 'segment-mixpanel-identify-original',
    );
    const expected = vector.expected_requests[0];
    const [request] = buildMixpanelRequests(
      [anItem('row-1', { externalId: 'user1234', anonIds: ['anonId1234'] })],
      { ...tracking, token: '<MIXPANEL_TOKEN>' },
    );

    expect(request.url.split('?')[0]).toBe(expected.url);
    expect(request.headers['content-type']).toBe(expected.content_type);
    // Segment sends one event object; we send an array so several rows share a request.
    expect(trackedEvents(request)[0]).toMatchObject(expected.form.data);
  });

  it('falls back to /track when the service account has no project id', () => {
    const [request] = buildMixpanelRequests([anItem('row-1')], { ...importing, projectId: null });

    expect(request.url).toBe('https://api.mixpanel.com/track?verbose=1');
  });
});

describe('/import requests', () => {
  it('posts a JSON array with Basic auth, strict=1 and the project id', () => {
    const [request] = buildMixpanelRequests([anItem('row-1')], importing);
    const url = new URL(request.url);
    const [scheme, credentials] = request.headers['authorization'].split(' ');

    expect(url.origin + url.pathname).toBe('https://api.mixpanel.com/import');
    expect(Object.fromEntries(url.searchParams)).toEqual({ strict: '1', project_id: '12345' });
    expect(request.headers['content-type']).toBe('application/json');
    expect(scheme).toBe('Basic');
    expect(Buffer.from(credentials, 'base64').toString()).toBe('svc.user:s3cr3t');
    expect(JSON.parse(request.body)).toEqual(mixpanelEvents(aMessage(), importing));
  });

  it('gives every event what strict validation demands', () => {
    const [request] = buildMixpanelRequests(manyItems(3, 2), {
      ...importing,
      idMerge: 'SIMPLIFIED',
    });

    for (const { event, properties } of JSON.parse(request.body)) {
      expect(event).toEqual(expect.any(String));
      expect(properties).toMatchObject({
        time: Date.parse(OCCURRED_AT),
        distinct_id: expect.any(String),
        $insert_id: expect.stringMatching(/^[A-Za-z0-9-]{1,36}$/),
      });
    }
  });

  it('maps every event index and $insert_id back to its row', () => {
    const [request] = buildMixpanelRequests(
      [
        anItem('row-1', { anonIds: [ANON, OTHER_ANON] }),
        anItem('row-2', { anonIds: [] }),
        anItem('row-3'),
      ],
      importing,
    );
    const events = JSON.parse(request.body);
    const insertIds = events.map((e: any) => e.properties.$insert_id);

    expect(request.rowIds).toEqual(['row-1', 'row-3']);
    expect(request.locate).toEqual({
      'index:0': 'row-1',
      'index:1': 'row-1',
      'index:2': 'row-3',
      [`insert_id:${insertIds[0]}`]: 'row-1',
      [`insert_id:${insertIds[1]}`]: 'row-1',
      [`insert_id:${insertIds[2]}`]: 'row-3',
    });
  });
});

describe('hosts', () => {
  const { hosts } = readFixture('mixpanel-identity.json');

  it.each(Object.entries(hosts as Record<string, string>))(
    'sends to the %s host from settings, trailing slash or not',
    (_region, host) => {
      for (const apiHost of [host, `${host}/`]) {
        const [tracked] = buildMixpanelRequests([anItem('row-1')], { ...tracking, apiHost });
        const [imported] = buildMixpanelRequests([anItem('row-1')], { ...importing, apiHost });

        expect(tracked.url).toBe(`${host}/track?verbose=1`);
        expect(imported.url).toBe(`${host}/import?strict=1&project_id=12345`);
      }
    },
  );
});

describe('batching', () => {
  const sizes = (requests: VendorRequest[]) =>
    requests.map((r) => JSON.parse(r.body).length as number);

  it.each<[string, number, number, number[]]>([
    ['2000 single events in one request', 2000, 1, [2000]],
    ['2001 single events in 2000 and 1', 2001, 1, [2000, 1]],
    ['700 items of 3 events without splitting an item', 700, 3, [1998, 102]],
  ])('puts %s', (_name, count, perItem, expected) => {
    const requests = buildMixpanelRequests(manyItems(count, perItem), importing);

    expect(sizes(requests)).toEqual(expected);
    expect(requests.flatMap((r) => r.rowIds)).toEqual(manyItems(count).map((i) => i.rowId));
  });

  it('keeps the events in item order across requests', () => {
    const requests = buildMixpanelRequests(manyItems(2001), tracking);
    const distinctIds = requests.flatMap((r) =>
      trackedEvents(r).map((e: any) => e.properties.distinct_id),
    );

    expect(distinctIds).toEqual(Array.from({ length: 2001 }, (_, i) => `user-${i}`));
    expect(requests[1].locate).toMatchObject({ 'index:0': 'row-2000' });
  });

  it('sends no request for items without anon ids', () => {
    expect(buildMixpanelRequests([anItem('row-1', { anonIds: [] })], tracking)).toEqual([]);
  });
});

describe('classifying the recorded /import responses', () => {
  const recorded = readFixture('mixpanel-responses.json');
  const byId = (id: string) => recorded.import.find((r: any) => r.id === id);

  /** The fixture's own request, as our builder would have located it. */
  function recordedRequest(): VendorRequest {
    const events: any[] = byId('import-partial-strict').request.body;
    return {
      url: 'https://api.mixpanel.com/import?strict=1&project_id=1',
      headers: {},
      body: JSON.stringify(events),
      rowIds: events.map((_, i) => `row-${i}`),
      locate: Object.fromEntries(
        events.flatMap((e, i) => [
          [`index:${i}`, `row-${i}`],
          [`insert_id:${e.properties.$insert_id}`, `row-${i}`],
        ]),
      ),
    };
  }

  it.each<[string, Classification]>([
    ['import-ok', { kind: 'delivered' }],
    [
      'import-partial-strict',
      { kind: 'partial', failed: new Map([['row-1', 'mixpanel: time: Invalid timestamp']]) },
    ],
    [
      'import-server-error',
      { kind: 'retry', error: 'mixpanel 500: Internal Server Error', pauseMs: null },
    ],
    [
      'import-rate-limited',
      {
        kind: 'retry',
        error:
          'mixpanel 429: Project exceeded rate limits. Please retry the request with exponential backoff.',
        pauseMs: 60_000,
      },
    ],
  ])('classifies %s', (id, classification) => {
    const { status, body } = byId(id).response;

    expect(classifyMixpanelResponse(recordedRequest(), response(status, body), NOW)).toEqual(
      classification,
    );
  });

  it('classifies the engage 200-with-error bodies the same way on /track: dead', () => {
    const [request] = buildMixpanelRequests([anItem('row-1')], tracking);

    for (const { response: answer } of recorded.engage_groups) {
      expect(classifyMixpanelResponse(request, response(answer.status, answer.body), NOW)).toEqual({
        kind: 'dead',
        error: `mixpanel 200: ${answer.body.error}`,
      });
    }
  });
});

describe('classifying failed_records of our own requests', () => {
  const request = buildMixpanelRequests(
    [anItem('row-1', { anonIds: [ANON, OTHER_ANON] }), anItem('row-2', { externalId: 'u2' })],
    importing,
  )[0];
  const insertIds = JSON.parse(request.body).map((e: any) => e.properties.$insert_id as string);
  const failedWith = (records: unknown[]) =>
    response(400, {
      code: 400,
      error: 'some data points in the request failed validation',
      failed_records: records,
    });

  it.each<[string, unknown[], Classification]>([
    [
      'records keyed by $insert_id',
      [{ index: 99, $insert_id: insertIds[2], field: 'properties.time', message: 'too old' }],
      { kind: 'partial', failed: new Map([['row-2', 'mixpanel: properties.time: too old']]) },
    ],
    [
      'records keyed by insert_id, as in the OpenAPI schema',
      [
        {
          index: 99,
          insert_id: insertIds[1],
          field: 'properties.distinct_id',
          message: 'reserved',
        },
      ],
      {
        kind: 'partial',
        failed: new Map([['row-1', 'mixpanel: properties.distinct_id: reserved']]),
      },
    ],
    [
      'records with only an index',
      [{ index: 0, field: 'event', message: 'bad' }],
      { kind: 'partial', failed: new Map([['row-1', 'mixpanel: event: bad']]) },
    ],
    [
      'two failed events of one row as one joined failure',
      [
        { index: 0, field: 'a', message: 'x' },
        { index: 1, field: 'b', message: 'y' },
      ],
      { kind: 'partial', failed: new Map([['row-1', 'mixpanel: a: x; mixpanel: b: y']]) },
    ],
    [
      'a record that names none of our rows as dead',
      [{ index: 42, $insert_id: 'elsewhere', field: 'time', message: 'bad' }],
      { kind: 'dead', error: 'mixpanel: time: bad' },
    ],
  ])('classifies %s', (_name, records, classification) => {
    expect(classifyMixpanelResponse(request, failedWith(records), NOW)).toEqual(classification);
  });

  it('classifies a 400 without failed_records as dead', () => {
    const answer = response(400, { code: 400, error: 'invalid JSON', status: 'Bad Request' });

    expect(classifyMixpanelResponse(request, answer, NOW)).toEqual({
      kind: 'dead',
      error: 'mixpanel 400: invalid JSON',
    });
  });
});

describe('classifying other mixpanel answers', () => {
  const tracked = buildMixpanelRequests([anItem('row-1')], tracking)[0];
  const imported = buildMixpanelRequests([anItem('row-1')], importing)[0];
  const unauthorized = { code: 401, error: 'Invalid credentials', status: 'Unauthorized' };

  it.each<[string, VendorRequest, VendorResponse, Classification]>([
    [
      '/track status 1 as delivered',
      tracked,
      response(200, { status: 1, error: null }),
      { kind: 'delivered' },
    ],
    ['/track plain 1 as delivered', tracked, response(200, '1'), { kind: 'delivered' }],
    [
      '/track status 0 as dead with its error',
      tracked,
      response(200, { status: 0, error: 'data, missing or empty' }),
      { kind: 'dead', error: 'mixpanel 200: data, missing or empty' },
    ],
    [
      '/track plain 0 as dead',
      tracked,
      response(200, '0'),
      { kind: 'dead', error: 'mixpanel 200: 0' },
    ],
    [
      '/track without a status as dead',
      tracked,
      response(200, {}),
      { kind: 'dead', error: 'mixpanel 200: {}' },
    ],
    [
      '/track 401 as dead',
      tracked,
      response(401, { error: 'Invalid credentials', status: 'error' }),
      { kind: 'dead', error: 'mixpanel 401: Invalid credentials' },
    ],
    [
      '/import 401 as dead',
      imported,
      response(401, unauthorized),
      { kind: 'dead', error: 'mixpanel 401: Invalid credentials' },
    ],
    [
      '/import 403 as dead',
      imported,
      response(403, { error: 'forbidden' }),
      { kind: 'dead', error: 'mixpanel 403: forbidden' },
    ],
    [
      '/import 413 as dead',
      imported,
      response(413, { code: 413, error: 'request exceeds max limit of 2097152 bytes' }),
      { kind: 'dead', error: 'mixpanel 413: request exceeds max limit of 2097152 bytes' },
    ],
    [
      '/import 502 as a retry',
      imported,
      response(502, 'Bad Gateway'),
      { kind: 'retry', error: 'mixpanel 502: Bad Gateway', pauseMs: null },
    ],
    [
      '/track 503 as a retry',
      tracked,
      response(503, ''),
      { kind: 'retry', error: 'mixpanel 503', pauseMs: null },
    ],
  ])('classifies %s', (_name, request, answer, classification) => {
    expect(classifyMixpanelResponse(request, answer, NOW)).toEqual(classification);
  });

  it.each<[string, Record<string, string>, number]>([
    ['Retry-After in seconds', { 'Retry-After': '7' }, 7_000],
    ['retry-after lower-cased', { 'retry-after': '2.5' }, 2_500],
    [
      'Retry-After as an HTTP date',
      { 'Retry-After': new Date(NOW + 30_000).toUTCString() },
      30_000,
    ],
    ['a date in the past', { 'Retry-After': new Date(NOW - 30_000).toUTCString() }, 0],
    ['a hint of a day', { 'Retry-After': '86400' }, 3_600_000],
    ['no hint', {}, 60_000],
  ])('pauses a 429 for %s', (_name, headers, pauseMs) => {
    for (const request of [tracked, imported]) {
      const classification = classifyMixpanelResponse(request, response(429, '', headers), NOW);
      expect(classification).toEqual({ kind: 'retry', error: 'mixpanel 429', pauseMs });
    }
  });
});

describe('deletions', () => {
  const recorded = readFixture('vendor-deletions.json').mixpanel;
  const erasing: MixpanelSettings = { ...tracking, gdprToken: 'gdpr-oauth' };

  function anErasure(
    rowId: string,
    action: ErasureMessage['action'],
    distinctIds: readonly string[],
  ): OutboxItem {
    const message: ErasureMessage = {
      type: ERASED_TYPE,
      changeId: 'erasure-1',
      workspaceId: 'ws-1',
      occurredAt: OCCURRED_AT,
      action,
      externalIds: [],
      aliases: [],
      distinctIds,
    };
    return { rowId, dedupeKey: `dedupe-${rowId}`, message };
  }
  const profiles = (rowId: string, distinctIds: readonly string[]) =>
    anErasure(rowId, 'mixpanel.profiles', distinctIds);
  const data = (rowId: string, distinctIds: readonly string[]) =>
    anErasure(rowId, 'mixpanel.data', distinctIds);
  const ids = (prefix: string, count: number) =>
    Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  const lowerCased = (headers: Record<string, string>) =>
    Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const bodyOf = (request: VendorRequest): any => JSON.parse(request.body);
  const pathOf = (request: VendorRequest) => new URL(request.url).pathname;

  describe('/engage profile deletions', () => {
    it('match the documented request, with $ignore_alias set', () => {
      const { request: expected } = recorded.engage_delete_request;
      const [request, ...rest] = buildMixpanelRequests(
        [
          profiles(
            'row-1',
            expected.body.map((u: any) => u.$distinct_id),
          ),
        ],
        { ...tracking, token: '<MIXPANEL_TOKEN>' },
      );

      expect(rest).toEqual([]);
      expect(request.url).toBe(expected.url);
      expect(request.headers).toEqual(lowerCased(expected.headers));
      expect(bodyOf(request)).toEqual(expected.body);
      expect(request.rowIds).toEqual(['row-1']);
      expect(request.locate).toEqual({ 'index:0': 'row-1' });
      expect(request.budget).toBeUndefined();
    });

    it('need neither a service account nor a GDPR token', () => {
      const [request] = buildMixpanelRequests([profiles('row-1', ['d1'])], importing);

      expect(request.url).toBe('https://api.mixpanel.com/engage?verbose=1');
      expect(request.headers).not.toHaveProperty('authorization');
    });

    it('go to the ingestion host of the settings', () => {
      const [request] = buildMixpanelRequests([profiles('row-1', ['d1'])], {
        ...tracking,
        apiHost: 'https://api-eu.mixpanel.com/',
      });

      expect(request.url).toBe('https://api-eu.mixpanel.com/engage?verbose=1');
    });

    it('locate every update of combined rows', () => {
      const [request] = buildMixpanelRequests(
        [profiles('row-1', ['a', 'b']), profiles('row-2', ['c'])],
        tracking,
      );

      expect(bodyOf(request).map((u: any) => u.$distinct_id)).toEqual(['a', 'b', 'c']);
      expect(request.locate).toEqual({
        'index:0': 'row-1',
        'index:1': 'row-1',
        'index:2': 'row-2',
      });
    });
  });

  describe('GDPR data deletions', () => {
    const { request: expected } = recorded.gdpr_deletion_request;
    const documented: MixpanelSettings = {
      ...tracking,
      token: '<MIXPANEL_TOKEN>',
      gdprToken: '<MIXPANEL_GDPR_OAUTH_TOKEN>',
    };

    it('match the documented request, within the GDPR budget', () => {
      const [request, ...rest] = buildMixpanelRequests(
        [data('row-1', expected.body.distinct_ids)],
        documented,
      );

      expect(rest).toEqual([]);
      // The placeholder token is URL-encoded as any token would be.
      expect(request.url).toBe(expected.url.replace('<MIXPANEL_TOKEN>', '%3CMIXPANEL_TOKEN%3E'));
      expect(request.headers).toEqual(lowerCased(expected.headers));
      expect(bodyOf(request)).toEqual(expected.body);
      expect(request.budget).toBe('mixpanel.gdpr');
      expect(request.rowIds).toEqual(['row-1']);
      expect(request.locate).toEqual({ 'distinct_ids:0': 'row-1', 'distinct_ids:1': 'row-1' });
    });

    it('URL-encode the project token', () => {
      const [request] = buildMixpanelRequests([data('row-1', ['d1'])], {
        ...erasing,
        token: 'a b/c&d',
      });

      expect(new URL(request.url).searchParams.get('token')).toBe('a b/c&d');
      expect(request.url).toContain('?token=a%20b%2Fc%26d');
    });

    it.each([
      ['https://api.mixpanel.com', 'https://mixpanel.com'],
      ['https://api-eu.mixpanel.com', 'https://eu.mixpanel.com'],
      ['https://api-in.mixpanel.com', 'https://in.mixpanel.com'],
    ])('go from ingestion host %s to %s', (apiHost, gdprHost) => {
      const [request] = buildMixpanelRequests([data('row-1', ['d1'])], { ...erasing, apiHost });

      expect(request.url).toBe(`${gdprHost}/api/app/data-deletions/v3.0/?token=mp-token`);
    });

    it('go to the configured GDPR host', () => {
      const [request] = buildMixpanelRequests([data('row-1', ['d1'])], {
        ...erasing,
        gdprApiHost: 'http://127.0.0.1:9999/mixpanel//',
      });

      expect(request.url).toBe(
        'http://127.0.0.1:9999/mixpanel/api/app/data-deletions/v3.0/?token=mp-token',
      );
    });

    it.each<[string, MixpanelSettings]>([
      ['absent', tracking],
      ['null', { ...tracking, gdprToken: null }],
      ['empty', { ...tracking, gdprToken: '' }],
      ['blank', { ...tracking, gdprToken: '  ' }],
    ])('are refused row by row when the GDPR token is %s', (_name, settings) => {
      expect(() => mixpanelItem(data('row-1', ['d1']), settings)).toThrow(
        'no GDPR token is configured for mixpanel',
      );
      // Profile deletions of the same workspace still go.
      expect(mixpanelItem(profiles('row-2', ['d1']), settings)).toEqual({
        kind: 'profiles',
        rowId: 'row-2',
        distinctIds: ['d1'],
      });
    });
  });

  describe('mixpanelGdprHost', () => {
    it.each([
      ['https://api.mixpanel.com', 'https://mixpanel.com'],
      ['https://api-eu.mixpanel.com', 'https://eu.mixpanel.com'],
      ['https://API-EU.mixpanel.com/', 'https://eu.mixpanel.com'],
      ['https://eu.proxy.example.com', 'https://eu.mixpanel.com'],
      ['https://api-eu.proxy.example.com/mp', 'https://eu.mixpanel.com'],
      ['https://api-in.mixpanel.com', 'https://in.mixpanel.com'],
      ['https://in.proxy.example.com', 'https://in.mixpanel.com'],
      ['https://api-in.proxy.example.com', 'https://in.mixpanel.com'],
      ['https://proxy.eu.example.com', 'https://mixpanel.com'],
      ['http://127.0.0.1:9999', 'https://mixpanel.com'],
      ['not a url', 'https://mixpanel.com'],
    ])('derives the GDPR host of %s as %s', (apiHost, gdprHost) => {
      expect(mixpanelGdprHost({ apiHost })).toBe(gdprHost);
      expect(mixpanelGdprHost({ apiHost, gdprApiHost: null })).toBe(gdprHost);
      expect(mixpanelGdprHost({ apiHost, gdprApiHost: '' })).toBe(gdprHost);
    });

    it.each([
      ['https://gdpr.example.com', 'https://gdpr.example.com'],
      ['https://gdpr.example.com///', 'https://gdpr.example.com'],
      [' https://eu.mixpanel.com/ ', 'https://eu.mixpanel.com'],
    ])('takes the configured host %j as %s', (gdprApiHost, host) => {
      expect(mixpanelGdprHost({ apiHost: 'https://api-in.mixpanel.com', gdprApiHost })).toBe(host);
    });
  });

  describe('batching', () => {
    const sizes = (requests: VendorRequest[]) =>
      requests.map((r) => {
        const body = bodyOf(r);
        return Array.isArray(body) ? body.length : body.distinct_ids.length;
      });
    const rows = (make: typeof profiles, count: number, perRow: number) =>
      Array.from({ length: count }, (_, i) => make(`row-${i}`, ids(`d${i}`, perRow)));

    it.each<[string, number, number, number[]]>([
      ['one row of 2000 ids in one request', 1, 2000, [2000]],
      ['2000 rows of one id in one request', 2000, 1, [2000]],
      ['2001 rows of one id in 2000 and 1', 2001, 1, [2000, 1]],
      ['700 rows of 3 ids without splitting a row', 700, 3, [1998, 102]],
    ])('puts %s', (_name, count, perRow, expected) => {
      for (const make of [profiles, data]) {
        const requests = buildMixpanelRequests(rows(make, count, perRow), erasing);

        expect(sizes(requests)).toEqual(expected);
        expect(requests.flatMap((r) => r.rowIds)).toEqual(
          Array.from({ length: count }, (_, i) => `row-${i}`),
        );
      }
    });

    it('locates the ids of a second request from zero', () => {
      const requests = buildMixpanelRequests(rows(data, 700, 3), erasing);

      expect(requests[1].locate).toMatchObject({
        'distinct_ids:0': 'row-666',
        'distinct_ids:101': 'row-699',
      });
      expect(Object.keys(requests[1].locate)).toHaveLength(102);
    });

    it.each([
      ['profiles', profiles],
      ['data', data],
    ] as const)('refuses a %s row of more than 2000 ids', (_name, make) => {
      expect(() => mixpanelItem(make('row-1', ids('d', 2001)), erasing)).toThrow(
        'mixpanel deletes at most 2000 distinct ids per request; the row holds 2001',
      );
    });

    it('refuses a braze row', () => {
      const row = anErasure('row-1', 'braze.users', []);

      expect(() => mixpanelItem(row, erasing)).toThrow(
        'mixpanel cannot carry a braze.users deletion',
      );
    });

    it('never mixes events, profile deletions and data deletions', () => {
      const requests = buildMixpanelRequests(
        [
          data('data-1', ['d1']),
          profiles('profiles-1', ['p1']),
          anItem('events-1'),
          data('data-2', ['d2']),
          profiles('profiles-2', ['p2']),
          anItem('events-2', { externalId: 'u2' }),
        ],
        { ...erasing, serviceAccount: 'svc:secret', projectId: '1' },
      );

      expect(requests.map((r) => [pathOf(r), r.rowIds])).toEqual([
        ['/import', ['events-1', 'events-2']],
        ['/engage', ['profiles-1', 'profiles-2']],
        ['/api/app/data-deletions/v3.0/', ['data-1', 'data-2']],
      ]);
    });

    it('sends nothing for rows without ids, and needs no GDPR token for them', () => {
      expect(buildMixpanelRequests([profiles('row-1', []), data('row-2', [])], tracking)).toEqual(
        [],
      );
    });

    it('builds the same requests from items prepared one by one', () => {
      const items = [anItem('row-1'), profiles('row-2', ['p']), data('row-3', ['d'])];

      expect(
        mixpanelRequests(
          items.map((i) => mixpanelItem(i, erasing)),
          erasing,
        ),
      ).toEqual(buildMixpanelRequests(items, erasing));
    });
  });

  describe('classifying /engage answers', () => {
    const [request] = buildMixpanelRequests([profiles('row-1', ['d1'])], tracking);
    const byId = (id: string) => recorded.engage_responses.find((r: any) => r.id === id);

    it.each<[string, Classification]>([
      ['verbose-ok', { kind: 'delivered' }],
      ['plain-ok', { kind: 'delivered' }],
      ['verbose-failure', { kind: 'dead', error: 'mixpanel 200: $token, missing or empty' }],
    ])('classifies the documented %s answer', (id, classification) => {
      const { status, body } = byId(id);

      expect(classifyMixpanelResponse(request, response(status, body), NOW)).toEqual(
        classification,
      );
    });

    it.each<[string, VendorResponse, Classification]>([
      [
        'a 429 with the ingestion pause',
        response(429, ''),
        { kind: 'retry', error: 'mixpanel 429', pauseMs: 60_000 },
      ],
      [
        'a 503 as a retry',
        response(503, ''),
        { kind: 'retry', error: 'mixpanel 503', pauseMs: null },
      ],
      [
        'a 400 as dead',
        response(400, { error: 'bad request' }),
        { kind: 'dead', error: 'mixpanel 400: bad request' },
      ],
    ])('classifies %s', (_name, answer, classification) => {
      expect(classifyMixpanelResponse(request, answer, NOW)).toEqual(classification);
    });
  });

  describe('classifying GDPR answers', () => {
    const [request] = buildMixpanelRequests([data('row-1', ['d1'])], erasing);
    const byId = (id: string) => recorded.gdpr_deletion_responses.find((r: any) => r.id === id);
    const classify = (answer: VendorResponse) => classifyMixpanelResponse(request, answer, NOW);

    it.each(['created-with-tracking-id', 'created-with-task-id'])(
      'keeps the task id of the documented %s answer',
      (id) => {
        const { status, body, reference } = byId(id);

        expect(classify(response(status, body))).toStrictEqual({ kind: 'delivered', reference });
      },
    );

    it('classifies the documented 401 as dead with its error', () => {
      const { status, body } = byId('unauthorized');

      expect(classify(response(status, body))).toEqual({
        kind: 'dead',
        error: 'mixpanel 401: Invalid OAuth token',
      });
    });

    it.each<[string, Record<string, string>, number]>([
      ['no hint: the API allows a request a second', {}, 1_000],
      ['Retry-After in seconds', { 'Retry-After': '3' }, 3_000],
      [
        'Retry-After as an HTTP date',
        { 'retry-after': new Date(NOW + 5_000).toUTCString() },
        5_000,
      ],
      ['an unreadable Retry-After', { 'Retry-After': 'soon' }, 1_000],
    ])('pauses the documented 429 for %s', (_name, headers, pauseMs) => {
      const { status, body } = byId('rate-limited');

      expect(classify(response(status, body, headers))).toEqual({
        kind: 'retry',
        error: 'mixpanel 429: rate limit exceeded',
        pauseMs,
      });
    });

    it.each<[string, VendorResponse, Classification]>([
      [
        'an ok without a task id as delivered, without a reference',
        response(200, { status: 'ok', results: [] }),
        { kind: 'delivered' },
      ],
      [
        'a numeric tracking id as a string',
        response(200, { status: 'ok', results: [{ tracking_id: 1583792934 }] }),
        { kind: 'delivered', reference: '1583792934' },
      ],
      [
        'a 2xx without status ok as dead with the body',
        response(200, { results: [] }),
        { kind: 'dead', error: 'mixpanel 200: {"results":[]}' },
      ],
      [
        'a 2xx that is not JSON as dead',
        response(202, '<html>proxy</html>'),
        { kind: 'dead', error: 'mixpanel 202: <html>proxy</html>' },
      ],
      [
        'a 2xx with an error status as dead with its error',
        response(200, { status: 'error', error: 'project not found' }),
        { kind: 'dead', error: 'mixpanel 200: project not found' },
      ],
      [
        'a 400 as dead',
        response(400, { status: 'error', error: 'distinct_ids is required' }),
        { kind: 'dead', error: 'mixpanel 400: distinct_ids is required' },
      ],
      [
        'a 403 as dead',
        response(403, { status: 'error', error: 'not an owner of the project' }),
        { kind: 'dead', error: 'mixpanel 403: not an owner of the project' },
      ],
      ['a 404 without a body as dead', response(404, ''), { kind: 'dead', error: 'mixpanel 404' }],
      [
        'a 500 as a retry without a pause',
        response(500, 'oops'),
        { kind: 'retry', error: 'mixpanel 500: oops', pauseMs: null },
      ],
      [
        'a 408 as a retry without a pause',
        response(408, ''),
        { kind: 'retry', error: 'mixpanel 408', pauseMs: null },
      ],
    ])('classifies %s', (_name, answer, classification) => {
      expect(classify(answer)).toStrictEqual(classification);
    });

    it('routes by the path, whatever the host', () => {
      const [proxied] = buildMixpanelRequests([data('row-1', ['d1'])], {
        ...erasing,
        gdprApiHost: 'http://127.0.0.1:9999/mp',
      });
      const answer = response(429, '');

      expect(classifyMixpanelResponse(proxied, answer, NOW)).toEqual({
        kind: 'retry',
        error: 'mixpanel 429',
        pauseMs: 1_000,
      });
    });
  });
});
