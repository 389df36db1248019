import { readFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import type { BrazeSettings } from '../../src/config/config.js';
import { packageRoot } from '../../src/lib/package-root.js';
import {
  type Classification,
  ERASED_TYPE,
  type ErasureMessage,
  type IdentifierInMessage,
  type IdentityMessage,
  type OutboxItem,
  type VendorRequest,
  type VendorResponse,
} from '../../src/outbox/message.js';
import {
  brazeOperation,
  brazePauseMs,
  brazeRequests,
  buildBrazeRequests,
  classifyBrazeResponse,
} from '../../src/vendors/braze/to-braze.js';

// Vendor request and response vectors recorded from peers' tests (see test/fixtures/README.md).
const fixtures = path.resolve(packageRoot(), 'test', 'fixtures');
const readFixture = (name: string): any =>
  JSON.parse(readFileSync(path.join(fixtures, name), 'utf8'));

const ANON = 'e6ab2c5e-2cda-44a9-a962-e2f67df78bca';
const LABEL = 'anon_id';
const NOW = Date.parse('2026-03-01T12:00:00.000Z');
const settings: BrazeSettings = {
  apiKey: 'braze-key',
  restEndpoint: 'https://rest.fra-01.braze.eu/',
};

function aMessage(overrides: Partial<IdentityMessage> = {}): IdentityMessage {
  return {
    type: 'identity.identified.v1',
    changeId: 'change-1',
    workspaceId: 'ws-1',
    occurredAt: '2026-03-01T11:59:00.000Z',
    externalId: 'user123',
    profileId: 'profile-1',
    absorbedProfileId: null,
    mergeBehavior: 'MERGE',
    identifier: { kind: 'anonId', anonId: ANON },
    anonIdLabel: LABEL,
    anonIds: [ANON],
    aliases: [],
    survivorAliasLabels: [],
    ...overrides,
  };
}

function anItem(rowId: string, overrides: Partial<IdentityMessage> = {}): OutboxItem {
  return { rowId, dedupeKey: `dedupe-${rowId}`, message: aMessage(overrides) };
}

const byAnonId = (anonId: string): IdentifierInMessage => ({ kind: 'anonId', anonId });
const byEmail = (email: string): IdentifierInMessage => ({
  kind: 'email',
  email,
  prioritization: ['UNIDENTIFIED', 'MOST_RECENTLY_UPDATED'],
});

const bodyOf = (request: VendorRequest): any => JSON.parse(request.body);
const pathOf = (request: VendorRequest): string => new URL(request.url).pathname;

function response(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): VendorResponse {
  return { status, headers, body: typeof body === 'string' ? body : JSON.stringify(body) };
}

describe('the rudder identify vectors', () => {
  const rudder = readFixture('braze-identify.rudder.json');
  const vector = (id: string) => rudder.vectors.find((v: any) => v.id === id);
  // Rudder files anon ids under its own label; ours comes from the workspace.
  const withOurLabel = (body: any) =>
    JSON.parse(JSON.stringify(body).replaceAll('"rudder_id"', JSON.stringify(LABEL)));

  it('sends one identify with the same url, headers and body shape as rudder', () => {
    const expected = vector('rudder-braze-identify-anon-plus-user').expected_requests[0];
    const [request, ...rest] = buildBrazeRequests([anItem('row-1')], settings);

    expect(rest).toEqual([]);
    expect(request.url).toBe(expected.url);
    expect(request.headers).toEqual(
      Object.fromEntries(
        Object.entries(expected.headers).map(([k, v]) => [
          k.toLowerCase(),
          String(v).replace('<BRAZE_REST_API_KEY>', 'braze-key'),
        ]),
      ),
    );
    expect(bodyOf(request)).toEqual(withOurLabel(expected.body));
    expect(request.rowIds).toEqual(['row-1']);
    expect(request.locate).toEqual({ 'aliases_to_identify:0': 'row-1' });
  });

  it('batches two users into one identify as rudder does', () => {
    const expected = vector('rudder-braze-identify-batched-two-users').expected_identify_body;
    const requests = buildBrazeRequests(
      expected.aliases_to_identify.map((entry: any, i: number) =>
        anItem(`row-${i}`, {
          externalId: entry.external_id,
          identifier: byAnonId(entry.user_alias.alias_name),
        }),
      ),
      settings,
    );

    expect(requests).toHaveLength(1);
    expect(bodyOf(requests[0])).toEqual(withOurLabel(expected));
  });

  it('keeps the anon id exactly as stored, prefix and case included', () => {
    const stored = `$device:${ANON.toUpperCase()}`;
    const [request] = buildBrazeRequests(
      [anItem('row-1', { identifier: byAnonId(stored) })],
      settings,
    );

    expect(bodyOf(request).aliases_to_identify[0].user_alias.alias_name).toBe(stored);
  });
});

describe('the segment identify vectors', () => {
  const segment = readFixture('braze-payloads.segment.json');
  const vector = (id: string) => segment.vectors.find((v: any) => v.id === id);

  it('identifies by an alias with its own label', () => {
    const expected = vector('segment-braze-identify-alias').request;
    const entry = expected.body.aliases_to_identify[0];
    const item = anItem('row-1', {
      externalId: entry.external_id,
      identifier: {
        kind: 'alias',
        aliasLabel: entry.user_alias.alias_label,
        aliasName: entry.user_alias.alias_name,
      },
    });
    const [request] = buildBrazeRequests([item], {
      apiKey: 'k',
      restEndpoint: 'https://rest.iad-01.braze.com',
    });

    expect(request.url).toBe(expected.url);
    // Segment leaves merge_behavior out; we always send it (PEERS lesson 3).
    expect(bodyOf(request)).toEqual({ ...expected.body, merge_behavior: 'merge' });
  });

  it('identifies by email with the prioritization lower-cased', () => {
    const expected = vector('segment-braze-identify-email').request;
    const entry = expected.body.emails_to_identify[0];
    const item = anItem('row-1', {
      externalId: entry.external_id,
      identifier: { kind: 'email', email: entry.email, prioritization: ['MOST_RECENTLY_UPDATED'] },
    });
    const [request] = buildBrazeRequests([item], settings);

    expect(bodyOf(request)).toEqual({ ...expected.body, merge_behavior: 'merge' });
    expect(request.locate).toEqual({ 'emails_to_identify:0': 'row-1' });
  });

  it.each([
    [['IDENTIFIED'], ['identified']],
    [
      ['UNIDENTIFIED', 'LEAST_RECENTLY_UPDATED'],
      ['unidentified', 'least_recently_updated'],
    ],
    [['MOST_RECENTLY_UPDATED'], ['most_recently_updated']],
  ] as const)('maps prioritization %j to %j', (input, wire) => {
    const item = anItem('row-1', {
      identifier: { kind: 'email', email: 'a@b.com', prioritization: input },
    });
    const [request] = buildBrazeRequests([item], settings);

    expect(bodyOf(request).emails_to_identify[0].prioritization).toEqual(wire);
  });

  it('accepts every REST endpoint segment lists, with or without a trailing slash', () => {
    for (const endpoint of segment.braze_rest_endpoints_seen_in_segment as string[]) {
      for (const restEndpoint of [endpoint, `${endpoint}/`]) {
        const [request] = buildBrazeRequests([anItem('row-1')], { apiKey: 'k', restEndpoint });
        expect(request.url).toBe(`${endpoint}/users/identify`);
      }
    }
  });
});

describe('batching', () => {
  const items = (count: number, make: (i: number) => IdentifierInMessage) =>
    Array.from({ length: count }, (_, i) =>
      anItem(`row-${i}`, { externalId: `user-${i}`, identifier: make(i) }),
    );

  it('splits 51 identifications into 50 and 1, keeping their order', () => {
    const requests = buildBrazeRequests(
      items(51, (i) => byAnonId(`anon-${i}`)),
      settings,
    );

    expect(requests.map((r) => bodyOf(r).aliases_to_identify.length)).toEqual([50, 1]);
    expect(requests.flatMap((r) => r.rowIds)).toEqual(
      Array.from({ length: 51 }, (_, i) => `row-${i}`),
    );
    expect(bodyOf(requests[1]).aliases_to_identify[0].external_id).toBe('user-50');
    expect(requests[1].locate).toEqual({ 'aliases_to_identify:0': 'row-50' });
  });

  it('counts aliases and emails together against the 50-entry limit', () => {
    const requests = buildBrazeRequests(
      items(70, (i) => (i % 2 === 0 ? byAnonId(`anon-${i}`) : byEmail(`u${i}@example.com`))),
      settings,
    );
    const sizes = requests.map((r) => {
      const body = bodyOf(r);
      return body.aliases_to_identify.length + body.emails_to_identify.length;
    });

    expect(sizes).toEqual([50, 20]);
  });

  it('lists rows in body order: aliases first, then emails', () => {
    const [request] = buildBrazeRequests(
      [
        anItem('email-row', { identifier: byEmail('a@example.com') }),
        anItem('alias-row-1', { identifier: byAnonId('anon-1') }),
        anItem('alias-row-2', { identifier: byAnonId('anon-2') }),
      ],
      settings,
    );

    expect(request.rowIds).toEqual(['alias-row-1', 'alias-row-2', 'email-row']);
    expect(request.locate).toEqual({
      'aliases_to_identify:0': 'alias-row-1',
      'aliases_to_identify:1': 'alias-row-2',
      'emails_to_identify:0': 'email-row',
    });
  });

  it('returns no request for no items', () => {
    expect(buildBrazeRequests([], settings)).toEqual([]);
  });
});

describe('merge behaviour', () => {
  it('is sent on every identify and groups the requests', () => {
    const requests = buildBrazeRequests(
      [
        anItem('row-1', { mergeBehavior: 'MERGE', identifier: byAnonId('a1') }),
        anItem('row-2', { mergeBehavior: 'NONE', identifier: byAnonId('a2') }),
        anItem('row-3', { mergeBehavior: 'MERGE', identifier: byEmail('c@example.com') }),
        anItem('row-4', { mergeBehavior: 'NONE', identifier: byEmail('d@example.com') }),
      ],
      settings,
    );

    expect(requests.map((r) => [bodyOf(r).merge_behavior, r.rowIds])).toEqual([
      ['merge', ['row-1', 'row-3']],
      ['none', ['row-2', 'row-4']],
    ]);
  });
});

describe('the /users/merge fallback', () => {
  const merged = (overrides: Partial<IdentityMessage> = {}): Partial<IdentityMessage> => ({
    type: 'identity.profiles_merged.v1',
    absorbedProfileId: 'profile-2',
    survivorAliasLabels: [LABEL],
    ...overrides,
  });

  it('merges the alias into the external id when the survivor holds the anon-id label', () => {
    const rudder = readFixture('braze-identify.rudder.json');
    const rudderMerge = rudder.vectors.find(
      (v: any) => v.id === 'rudder-braze-alias-to-users-merge',
    ).expected_requests[0].body.merge_updates[0];
    const requests = buildBrazeRequests([anItem('row-1', merged())], settings);

    expect(requests).toHaveLength(1);
    expect(pathOf(requests[0])).toBe('/users/merge');
    // Rudder merges two external ids; ours names the absorbed side by its alias, same keys.
    expect(Object.keys(bodyOf(requests[0]).merge_updates[0])).toEqual(Object.keys(rudderMerge));
    expect(bodyOf(requests[0])).toEqual({
      merge_updates: [
        {
          identifier_to_merge: { user_alias: { alias_name: ANON, alias_label: LABEL } },
          identifier_to_keep: { external_id: 'user123' },
        },
      ],
    });
    expect(requests[0].locate).toEqual({ 'merge_updates:0': 'row-1' });
  });

  it.each<[string, Partial<IdentityMessage>, string]>([
    [
      'an alias whose label the survivor holds',
      merged({
        identifier: { kind: 'alias', aliasLabel: 'crm', aliasName: 'c-1' },
        survivorAliasLabels: ['crm'],
      }),
      '/users/merge',
    ],
    [
      'a merge whose survivor lacks the label',
      merged({ survivorAliasLabels: ['crm'] }),
      '/users/identify',
    ],
    [
      'an email identifier in a merge',
      merged({ identifier: byEmail('a@example.com') }),
      '/users/identify',
    ],
    [
      'an identification, even with the label held',
      { survivorAliasLabels: [LABEL] },
      '/users/identify',
    ],
  ])('sends %s to %s', (_name, overrides, expectedPath) => {
    const [request] = buildBrazeRequests([anItem('row-1', overrides)], settings);

    expect(pathOf(request)).toBe(expectedPath);
  });

  it('batches merges by 50 apart from identifies, without merge_behavior', () => {
    const items = [
      anItem('identify-row', { identifier: byAnonId('plain') }),
      ...Array.from({ length: 51 }, (_, i) =>
        anItem(`merge-${i}`, merged({ identifier: byAnonId(`anon-${i}`) })),
      ),
    ];
    const requests = buildBrazeRequests(items, settings);

    expect(requests.map((r) => [pathOf(r), r.rowIds.length])).toEqual([
      ['/users/identify', 1],
      ['/users/merge', 50],
      ['/users/merge', 1],
    ]);
    expect(bodyOf(requests[1])).not.toHaveProperty('merge_behavior');
    expect(requests[2].rowIds).toEqual(['merge-50']);
  });
});

describe('classifying the recorded braze responses', () => {
  const request = buildBrazeRequests(
    [anItem('alias-row'), anItem('email-row', { identifier: byEmail('a@example.com') })],
    settings,
  )[0];
  const recorded: any[] = readFixture('braze-responses.json').identify_responses;

  // Where we differ from the peers, and why:
  // - alias-failure: Rudder counts a metric and moves on; an error outside our arrays names no
  //   row, and Braze processed nothing, so the request is dead rather than silently "delivered".
  // - per-item-error-200: Rudder logs the first error only; we fail exactly the located row and
  //   deliver the others (PEERS lesson 5), since a retry would hit the same error.
  // - prioritization-conflict: Segment turns it into a non-retryable 400, as we do (dead).
  // - ok-with-minor-errors: plain-string errors are warnings on an accepted request (Rudder v0).
  const expected: Record<string, Classification> = {
    ok: { kind: 'delivered' },
    'ok-with-minor-errors': { kind: 'delivered' },
    'app-level-fatal': { kind: 'dead', error: 'braze 201: fatal error message' },
    'empty-body': { kind: 'delivered' },
    'alias-failure': { kind: 'dead', error: "braze: 'external_id' is required" },
    'per-item-error-200': {
      kind: 'partial',
      failed: new Map([['alias-row', 'braze: invalid_external_id']]),
    },
    'prioritization-conflict': {
      kind: 'dead',
      error:
        "braze: Request can not contain both of 'most_recently_updated' and 'least_recently_updated' values in the 'prioritization' array",
    },
    'emails-ok': { kind: 'delivered' },
    'bad-request': { kind: 'dead', error: 'braze 400: Invalid request - Mock Error' },
    unauthorized: { kind: 'dead', error: 'braze 401: Bad Req' },
    'rate-limited': { kind: 'retry', error: 'braze 429: Rate Limited', pauseMs: 60_000 },
    'server-error': { kind: 'retry', error: 'braze 500: Internal Server Error', pauseMs: null },
  };

  it('has an expectation for every recorded HTTP answer', () => {
    const answered = recorded.filter((r) => r.status !== null).map((r) => r.id);
    expect(Object.keys(expected).sort()).toEqual(answered.sort());
  });

  it.each(recorded.filter((r) => r.status !== null))('classifies $id', (recordedResponse) => {
    const classification = classifyBrazeResponse(
      request,
      response(recordedResponse.status, recordedResponse.body),
      NOW,
    );

    expect(classification).toEqual(expected[recordedResponse.id]);
  });
});

describe('classifying other braze answers', () => {
  const request = buildBrazeRequests(
    [
      anItem('alias-0', { identifier: byAnonId('a0') }),
      anItem('alias-1', { identifier: byAnonId('a1') }),
      anItem('email-0', { identifier: byEmail('a@example.com') }),
    ],
    settings,
  )[0];
  const located = (input_array: string, index: number, type = 'boom') => ({
    type,
    input_array,
    index,
  });

  it.each<[string, VendorResponse, Classification]>([
    ['a queued 202 as delivered', response(202, { message: 'queued' }), { kind: 'delivered' }],
    ['an empty object as delivered', response(201, {}), { kind: 'delivered' }],
    [
      'errors in both arrays as failures of those rows only',
      response(201, {
        message: 'success',
        errors: [
          located('aliases_to_identify', 1, 'bad alias'),
          'a warning',
          located('emails_to_identify', 0, 'bad email'),
        ],
      }),
      {
        kind: 'partial',
        failed: new Map([
          ['alias-1', 'braze: bad alias'],
          ['email-0', 'braze: bad email'],
        ]),
      },
    ],
    [
      'two errors on one row as one joined failure',
      response(201, {
        message: 'success',
        errors: [located('aliases_to_identify', 0, 'x'), located('aliases_to_identify', 0, 'y')],
      }),
      { kind: 'partial', failed: new Map([['alias-0', 'braze: x; braze: y']]) },
    ],
    [
      'an error at an index beyond the body as dead',
      response(201, { message: 'success', errors: [located('aliases_to_identify', 7)] }),
      { kind: 'dead', error: 'braze: boom' },
    ],
    [
      'a non-JSON 2xx as a retry',
      response(200, '<html>gateway</html>'),
      { kind: 'retry', error: 'braze 200: <html>gateway</html> (unreadable body)', pauseMs: null },
    ],
    [
      'a 403 as dead',
      response(403, { message: 'Access Denied' }),
      { kind: 'dead', error: 'braze 403: Access Denied' },
    ],
    [
      'a 404 with a text body as dead',
      response(404, 'Not Found'),
      { kind: 'dead', error: 'braze 404: Not Found' },
    ],
    ['a 413 with an empty body as dead', response(413, ''), { kind: 'dead', error: 'braze 413' }],
    ['a 408 as a retry', response(408, ''), { kind: 'retry', error: 'braze 408', pauseMs: null }],
    [
      'a 503 as a retry',
      response(503, 'upstream down'),
      { kind: 'retry', error: 'braze 503: upstream down', pauseMs: null },
    ],
  ])('classifies %s', (_name, answer, classification) => {
    expect(classifyBrazeResponse(request, answer, NOW)).toEqual(classification);
  });

  it('truncates a long raw body to 500 characters', () => {
    const classification = classifyBrazeResponse(request, response(400, 'x'.repeat(2000)), NOW);

    expect(classification.kind).toBe('dead');
    expect(classification.kind === 'dead' && classification.error.length).toBeLessThan(520);
  });

  it('locates errors of a /users/merge request', () => {
    const merge = buildBrazeRequests(
      [0, 1].map((i) =>
        anItem(`merge-${i}`, {
          type: 'identity.profiles_merged.v1',
          identifier: byAnonId(`anon-${i}`),
          survivorAliasLabels: [LABEL],
        }),
      ),
      settings,
    )[0];
    const answer = response(202, { message: 'success', errors: [located('merge_updates', 1)] });

    expect(classifyBrazeResponse(merge, answer, NOW)).toEqual({
      kind: 'partial',
      failed: new Map([['merge-1', 'braze: boom']]),
    });
  });
});

describe('throttling', () => {
  const request = buildBrazeRequests([anItem('row-1')], settings)[0];
  const httpDate = (ms: number) => new Date(ms).toUTCString();
  const epochSeconds = (ms: number) => String(Math.floor(ms / 1000));

  it.each<[string, Record<string, string>, number]>([
    ['Retry-After in seconds', { 'Retry-After': '30' }, 30_000],
    ['Retry-After as an HTTP date', { 'Retry-After': httpDate(NOW + 90_000) }, 90_000],
    ['X-Ratelimit-Retry-After in seconds', { 'X-Ratelimit-Retry-After': '12' }, 12_000],
    ['x-ratelimit-retry-after lower-cased', { 'x-ratelimit-retry-after': '5' }, 5_000],
    [
      'X-RateLimit-Reset as epoch seconds',
      { 'X-RateLimit-Reset': epochSeconds(NOW + 45_000) },
      45_000,
    ],
    ['no hint at all', {}, 60_000],
    ['an unreadable hint', { 'Retry-After': 'soon' }, 60_000],
    ['a date in the past', { 'Retry-After': httpDate(NOW - 10_000) }, 0],
    ['a hint of a day', { 'X-Ratelimit-Retry-After': '86400' }, 3_600_000],
    [
      'Retry-After before the reset',
      { 'X-RateLimit-Reset': epochSeconds(NOW + 45_000), 'Retry-After': '3' },
      3_000,
    ],
  ])('pauses a 429 for %s', (_name, headers, pauseMs) => {
    const answer = response(429, { message: 'Rate Limited' }, headers);

    expect(classifyBrazeResponse(request, answer, NOW)).toEqual({
      kind: 'retry',
      error: 'braze 429: Rate Limited',
      pauseMs,
    });
    expect(brazePauseMs(answer, NOW)).toBe(pauseMs);
  });

  it.each<[string, number, Record<string, string>, number | null]>([
    [
      'the last call of the window',
      201,
      { 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': epochSeconds(NOW + 20_000) },
      20_000,
    ],
    [
      'calls left in the window',
      201,
      { 'x-ratelimit-remaining': '17', 'x-ratelimit-reset': epochSeconds(NOW + 20_000) },
      null,
    ],
    [
      'a window that has already reset',
      201,
      { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': epochSeconds(NOW - 5_000) },
      null,
    ],
    ['no remaining count', 201, { 'x-ratelimit-reset': epochSeconds(NOW + 20_000) }, null],
    ['no rate-limit headers', 201, {}, null],
    [
      'a failed call that spent the window',
      400,
      { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': epochSeconds(NOW + 7_000) },
      7_000,
    ],
  ])('asks for a pause after %s', (_name, status, headers, pauseMs) => {
    expect(brazePauseMs(response(status, { message: 'success' }, headers), NOW)).toBe(pauseMs);
  });

  it('keeps the classification of a 2xx that spent the window', () => {
    const answer = response(
      201,
      { message: 'success' },
      {
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': epochSeconds(NOW + 20_000),
      },
    );

    expect(classifyBrazeResponse(request, answer, NOW)).toEqual({ kind: 'delivered' });
  });
});

describe('user deletions', () => {
  const deletions = readFixture('vendor-deletions.json').braze;
  const requestVector = (id: string) =>
    deletions.delete_requests.find((v: any) => v.id === id).request;
  const answer = (id: string) => {
    const recorded = deletions.delete_responses.find((r: any) => r.id === id);
    return response(recorded.status, recorded.body);
  };

  function anErasure(rowId: string, overrides: Partial<ErasureMessage> = {}): OutboxItem {
    const message: ErasureMessage = {
      type: ERASED_TYPE,
      changeId: 'erasure-1',
      workspaceId: 'ws-1',
      occurredAt: '2026-03-01T11:59:00.000Z',
      action: 'braze.users',
      externalIds: [],
      aliases: [],
      distinctIds: [],
      ...overrides,
    };
    return { rowId, dedupeKey: `dedupe-${rowId}`, message };
  }
  const externalIds = (prefix: string, count: number) =>
    Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  const aliases = (prefix: string, count: number) =>
    Array.from({ length: count }, (_, i) => ({ aliasLabel: LABEL, aliasName: `${prefix}-${i}` }));
  const docsSettings: BrazeSettings = {
    apiKey: 'braze-key',
    restEndpoint: 'https://rest.iad-01.braze.com',
  };
  const withKey = (headers: Record<string, string>) =>
    Object.fromEntries(
      Object.entries(headers).map(([k, v]) => [
        k.toLowerCase(),
        v.replace('<BRAZE_REST_API_KEY>', 'braze-key'),
      ]),
    );

  it('deletes by external ids exactly as the documented request', () => {
    const expected = requestVector('braze-delete-external-ids');
    const [request, ...rest] = buildBrazeRequests(
      [anErasure('row-1', { externalIds: expected.body.external_ids })],
      docsSettings,
    );

    expect(rest).toEqual([]);
    expect(request.url).toBe(expected.url);
    expect(request.headers).toEqual({ ...withKey(expected.headers), accept: 'application/json' });
    expect(bodyOf(request)).toEqual(expected.body);
    expect(request.rowIds).toEqual(['row-1']);
    expect(request.locate).toEqual({ 'external_ids:0': 'row-1', 'external_ids:1': 'row-1' });
    expect(request.budget).toBeUndefined();
  });

  it('deletes by user aliases exactly as the documented request', () => {
    const expected = requestVector('braze-delete-user-aliases');
    const rowAliases = expected.body.user_aliases.map((a: any) => ({
      aliasLabel: a.alias_label,
      aliasName: a.alias_name,
    }));
    const [request] = buildBrazeRequests(
      [anErasure('row-1', { aliases: rowAliases })],
      docsSettings,
    );

    expect(request.url).toBe(expected.url);
    expect(bodyOf(request)).toEqual(expected.body);
    expect(request.body).toBe(JSON.stringify(expected.body));
    expect(request.locate).toEqual({ 'user_aliases:0': 'row-1', 'user_aliases:1': 'row-1' });
  });

  it('deletes by external ids alone when a row has both kinds', () => {
    const [request, ...rest] = buildBrazeRequests(
      [anErasure('row-1', { externalIds: ['user-1'], aliases: aliases('a', 2) })],
      settings,
    );

    expect(rest).toEqual([]);
    expect(bodyOf(request)).toEqual({ external_ids: ['user-1'] });
  });

  it('never mixes kinds, nor deletions with identifications', () => {
    const requests = buildBrazeRequests(
      [
        anErasure('ids-1', { externalIds: ['u1'] }),
        anErasure('aliases-1', { aliases: aliases('a', 1) }),
        anItem('identify-1'),
        anErasure('ids-2', { externalIds: ['u2'] }),
        anErasure('aliases-2', { aliases: aliases('b', 1) }),
      ],
      settings,
    );

    expect(requests.map((r) => [pathOf(r), Object.keys(bodyOf(r)), r.rowIds])).toEqual([
      ['/users/delete', ['external_ids'], ['ids-1', 'ids-2']],
      ['/users/delete', ['user_aliases'], ['aliases-1', 'aliases-2']],
      ['/users/identify', ['aliases_to_identify', 'merge_behavior'], ['identify-1']],
    ]);
  });

  it('combines rows while their ids fit 50, counting ids rather than rows', () => {
    const requests = buildBrazeRequests(
      [
        anErasure('row-0', { externalIds: externalIds('a', 20) }),
        anErasure('row-1', { externalIds: externalIds('b', 20) }),
        anErasure('row-2', { externalIds: externalIds('c', 20) }),
        anErasure('row-3', { externalIds: externalIds('d', 30) }),
        anErasure('row-4', { externalIds: externalIds('e', 50) }),
        anErasure('row-5', { externalIds: externalIds('f', 1) }),
      ],
      settings,
    );

    expect(requests.map((r) => [bodyOf(r).external_ids.length, r.rowIds])).toEqual([
      [40, ['row-0', 'row-1']],
      [50, ['row-2', 'row-3']],
      [50, ['row-4']],
      [1, ['row-5']],
    ]);
    expect(requests[1].locate).toMatchObject({
      'external_ids:0': 'row-2',
      'external_ids:19': 'row-2',
      'external_ids:20': 'row-3',
      'external_ids:49': 'row-3',
    });
    expect(Object.keys(requests[1].locate)).toHaveLength(50);
  });

  it('locates every alias of combined rows in body order', () => {
    const [request] = buildBrazeRequests(
      [
        anErasure('row-1', { aliases: aliases('a', 2) }),
        anErasure('row-2', { aliases: aliases('b', 1) }),
      ],
      settings,
    );

    expect(bodyOf(request).user_aliases).toEqual([
      { alias_name: 'a-0', alias_label: LABEL },
      { alias_name: 'a-1', alias_label: LABEL },
      { alias_name: 'b-0', alias_label: LABEL },
    ]);
    expect(request.locate).toEqual({
      'user_aliases:0': 'row-1',
      'user_aliases:1': 'row-1',
      'user_aliases:2': 'row-2',
    });
  });

  it('sends nothing for a row without ids', () => {
    expect(buildBrazeRequests([anErasure('empty')], settings)).toEqual([]);

    const requests = buildBrazeRequests(
      [anErasure('empty'), anErasure('row-1', { externalIds: ['u1'] })],
      settings,
    );
    expect(requests.flatMap((r) => r.rowIds)).toEqual(['row-1']);
  });

  it.each([
    ['external ids', { externalIds: externalIds('u', 51) }, /at most 50 .*51 external_ids/],
    ['aliases', { aliases: aliases('a', 51) }, /at most 50 .*51 user_aliases/],
  ] as const)('refuses a row of more than 50 %s', (_name, overrides, message) => {
    expect(() => brazeOperation(anErasure('row-1', overrides))).toThrow(message);
  });

  it.each(['mixpanel.profiles', 'mixpanel.data'] as const)(
    'refuses a %s row, which is not for braze',
    (action) => {
      expect(() => brazeOperation(anErasure('row-1', { action, distinctIds: ['d1'] }))).toThrow(
        `braze cannot carry a ${action} deletion`,
      );
    },
  );

  it('builds the same requests from operations prepared one by one', () => {
    const items = [
      anErasure('row-1', { externalIds: ['u1'] }),
      anErasure('row-2', { aliases: aliases('a', 1) }),
    ];

    expect(brazeRequests(items.map(brazeOperation), settings)).toEqual(
      buildBrazeRequests(items, settings),
    );
  });

  describe('classifying the answers', () => {
    const [request] = buildBrazeRequests(
      [anErasure('row-1', { externalIds: ['u1'] }), anErasure('row-2', { externalIds: ['u2'] })],
      settings,
    );

    it.each<[string, Classification]>([
      ['deleted', { kind: 'delivered' }],
      ['deleted-none', { kind: 'delivered' }],
      [
        'bad-request',
        {
          kind: 'dead',
          error: 'braze 400: Invalid request: only one identifier kind may be given',
        },
      ],
    ])('classifies the documented %s answer', (id, classification) => {
      expect(classifyBrazeResponse(request, answer(id), NOW)).toEqual(classification);
    });

    it.each<[string, VendorResponse, Classification]>([
      [
        'a 429 as a throttle',
        response(429, { message: 'Rate Limited' }, { 'retry-after': '4' }),
        { kind: 'retry', error: 'braze 429: Rate Limited', pauseMs: 4_000 },
      ],
      [
        'a 502 as a retry',
        response(502, 'Bad Gateway'),
        { kind: 'retry', error: 'braze 502: Bad Gateway', pauseMs: null },
      ],
      [
        'a 401 as dead',
        response(401, { message: 'Invalid API key' }),
        { kind: 'dead', error: 'braze 401: Invalid API key' },
      ],
      [
        'a located error as a failure of its row',
        response(200, {
          deleted: 1,
          message: 'success',
          errors: [{ type: 'bad id', input_array: 'external_ids', index: 1 }],
        }),
        { kind: 'partial', failed: new Map([['row-2', 'braze: bad id']]) },
      ],
    ])('classifies %s', (_name, answered, classification) => {
      expect(classifyBrazeResponse(request, answered, NOW)).toEqual(classification);
    });
  });
});
