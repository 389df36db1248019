import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import type { MixpanelSettings } from '../../src/config/config.js';
import { packageRoot } from '../../src/lib/package-root.js';
import type {
  Classification,
  IdentityMessage,
  OutboxItem,
  VendorRequest,
  VendorResponse,
} from '../../src/outbox/message.js';
import {
  buildMixpanelRequests,
  classifyMixpanelResponse,
  mixpanelEvents,
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
