/**
 * Hardening: every mutation fuzzed with hostile input sent as GraphQL variables, rejected
 * requests that must write nothing, hostile read arguments, and raw HTTP bodies fuzzed against
 * POST /graphql. Whatever arrives, the gateway answers with a known error code, never 500 or
 * INTERNAL_SERVER_ERROR, never leaks SQL or stack frames, and keeps serving.
 */
import { count, eq } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { apiKeys, workspaces } from '../../src/auth/auth.sql.js';
import { suppressions } from '../../src/erasure/erasure.sql.js';
import { anAnonId, anEvent, anExternalId } from '../helpers/builders.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

let gw: TestGateway;
let base: string;
/** A key of a workspace no test touches, to check after every test that the gateway serves. */
let aliveKey: string;
beforeAll(async () => {
  // The per-key rate limit is not under test here: fuzzing sends many requests with one key.
  gw = await startTestGateway({ RATE_LIMIT_PER_MINUTE: '1000000' });
  base = gw.url.replace(/\/graphql$/, '');
  ({ key: aliveKey } = await gw.newWorkspace());
});
afterEach(async () => {
  await expectAlive(aliveKey);
});
afterAll(async () => {
  await gw?.close();
});

// ---------------------------------------------------------------------------------------------
// What every answer must look like
// ---------------------------------------------------------------------------------------------

const ALLOWED_STATUS = [200, 400, 401, 413];
const ALLOWED_CODES = new Set([
  'BAD_USER_INPUT',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'UNAUTHENTICATED',
  'GRAPHQL_VALIDATION_FAILED',
  'GRAPHQL_PARSE_FAILED',
  'BAD_REQUEST',
  'RATE_LIMITED',
]);
/** What an error message must never show: stack frames, SQL, the driver or the ORM. */
const LEAKS: readonly (readonly [string, RegExp])[] = [
  ['a stack frame', /^\s*at .+:\d+:\d+\)?$/m],
  ['a stack frame', /\bat (?:async )?[\w$.<>[\]]+ \(.+:\d+:\d+\)/],
  ['a source path', /(?:file:\/\/|node:internal|\/src\/|\.ts:\d+)/],
  ['SQL', /\bselect /i],
  ['SQL', /\binsert /i],
  ['SQL', /\bupdate /i],
  ['SQL', /failed query/i],
  ['the database', /postgres/i],
  ['the ORM', /drizzle/i],
];

interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
  /** The parsed body when it is JSON. */
  readonly body: any;
}

const shown = (a: Answer) => `HTTP ${a.status} (${a.contentType}): ${a.text.slice(0, 600)}`;

async function answerOf(res: Response): Promise<Answer> {
  const text = await res.text();
  const contentType = res.headers.get('content-type') ?? '';
  let body: unknown;
  if (/json/i.test(contentType)) {
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(
        `a JSON content type with a body that is not JSON: HTTP ${res.status} ${text.slice(0, 300)}`,
      );
    }
  }
  return { status: res.status, contentType, text, body };
}

const authorization = (key: string | null): Record<string, string> =>
  key ? { authorization: `Bearer ${key}` } : {};

async function postGql(key: string | null, query: string, variables?: unknown): Promise<Answer> {
  const res = await fetch(gw.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authorization(key) },
    body: JSON.stringify({ query, variables }),
  });
  return answerOf(res);
}

/** The checks every answer passes: a known status, JSON errors with public codes, no leaks. */
function expectWellFormed(a: Answer, allowedStatus = ALLOWED_STATUS, extraCodes: string[] = []) {
  expect(a.status, `answered 500: ${shown(a)}`).not.toBe(500);
  expect(allowedStatus, `unexpected status: ${shown(a)}`).toContain(a.status);
  expect(Object.prototype, 'Object.prototype was polluted').not.toHaveProperty('polluted');
  if (a.status >= 400) {
    expect(a.body, `an error answer that is not JSON: ${shown(a)}`).toBeDefined();
    expect(a.body.errors?.length, `an error answer without errors: ${shown(a)}`).toBeGreaterThan(0);
  }
  if (a.body === undefined) return;
  const errors: unknown = a.body?.errors ?? [];
  expect(Array.isArray(errors), `errors is not a list: ${shown(a)}`).toBe(true);
  for (const e of errors as any[]) {
    const code: unknown = e?.extensions?.code;
    const which = `${JSON.stringify(e).slice(0, 400)} (HTTP ${a.status}, error ${(errors as any[]).indexOf(e) + 1} of ${(errors as any[]).length})`;
    expect(code, `INTERNAL_SERVER_ERROR: ${which}`).not.toBe('INTERNAL_SERVER_ERROR');
    expect(
      ALLOWED_CODES.has(String(code)) || extraCodes.includes(String(code)),
      `unexpected code ${String(code)}: ${which}`,
    ).toBe(true);
    expect(typeof e.message, `an error without a message: ${shown(a)}`).toBe('string');
    for (const [what, pattern] of LEAKS) {
      expect(pattern.test(e.message), `${what} in an error message: ${e.message}`).toBe(false);
    }
    expect(e.extensions, `a stack trace in extensions: ${shown(a)}`).not.toHaveProperty(
      'stacktrace',
    );
    expect(e.extensions, `an exception in extensions: ${shown(a)}`).not.toHaveProperty('exception');
  }
}

const rejected = (a: Answer) => (a.body?.errors?.length ?? 0) > 0 && a.body?.data == null;

/** The gateway still serves: /healthz answers 200 and a simple query works. */
async function expectAlive(key: string) {
  const health = await fetch(`${base}/healthz`);
  expect(health.status, 'healthz after the test').toBe(200);
  const res = await gw.gql(key, `{ workspace { id } }`);
  expect(res.errors, 'a simple query after the test').toBeUndefined();
  expect(res.data?.workspace.id).toBeTruthy();
}

// ---------------------------------------------------------------------------------------------
// Workspaces with something in them, and what "nothing written" compares
// ---------------------------------------------------------------------------------------------

const VENDORS = {
  mixpanel: {
    token: 'mp-token',
    apiHost: 'https://api.mixpanel.com',
    idMerge: 'ORIGINAL' as const,
    serviceAccount: null,
    projectId: null,
  },
  braze: { apiKey: 'braze-key', restEndpoint: 'https://rest.fra-01.braze.eu' },
};

interface Workspace {
  readonly workspaceId: string;
  readonly key: string;
  /** Anonymous profiles; the first two are merged into externalIds[0] and [1]. */
  readonly anonIds: string[];
  readonly externalIds: string[];
  readonly aliasNames: string[];
  readonly mergeIds: string[];
  readonly deliveryIds: string[];
  /** Keys made for revokeApiKey to revoke; never the key the tests call with. */
  readonly victimKeyIds: string[];
}

const TRACK = `mutation ($input: TrackUsersInput!) {
  trackUsers(input: $input) {
    attributesProcessed eventsProcessed purchasesProcessed sessionsProcessed pushTokensProcessed message
  }
}`;
const ALIASES = `mutation ($input: CreateAliasesInput!) {
  createAliases(input: $input) { aliasesProcessed message aliases { aliasLabel aliasName profile { id } } }
}`;
const IDENTIFY = `mutation ($input: IdentifyUsersInput!) {
  identifyUsers(input: $input) {
    aliasesProcessed dryRun message
    results { index outcome reason externalId profile { id } merge { id changedFields } deliveries { id status } }
  }
}`;
const FORGET = `mutation ($input: ForgetUsersInput!) {
  forgetUsers(input: $input) {
    dryRun results { index outcome reason erasure { id status identifierCount fingerprints deliveries { id status } } }
  }
}`;
const LIFT = `mutation ($users: [ProfileLookup!]!) { liftSuppression(users: $users) }`;
const CREATE_KEY = `mutation ($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { key apiKey { id name scopes revokedAt } }
}`;
const REVOKE_KEY = `mutation ($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`;
const RETRY = `mutation ($ids: [ID!]!) { retryDeliveries(ids: $ids) { id status attempts } }`;
const UNDO = `mutation ($id: ID!) { undoMerge(id: $id) { id undoneAt } }`;
const CREATE_WORKSPACE = `mutation ($input: CreateWorkspaceInput!) {
  createWorkspace(input: $input) {
    workspace { id name anonIdLabel mixpanelConfigured brazeConfigured }
    apiKey { key apiKey { id scopes } }
  }
}`;
/** A page of profiles with everything they hold: 10 to a page keeps it under MAX_QUERY_COST. */
const READ_BACK = `query ($after: String) {
  profiles(first: 10, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      id externalId identified email firstName lastName gender dateOfBirth phone timeZone homeCity
      country language customAttributes sessionCount firstSessionAt lastSessionAt createdAt updatedAt
      anonIds aliases { aliasLabel aliasName }
      events { name count firstAt lastAt dailyCounts { day count } }
      purchases { count totalCents firstAt lastAt }
      pushTokens { appId token platform updatedAt }
      apps { appId sessionCount totalSeconds firstSessionAt lastSessionAt }
      merges { id changedFields behavior undoneAt }
    } }
  }
}`;

async function ok(key: string, query: string, variables?: Record<string, unknown>) {
  const res = await gw.gql(key, query, variables);
  expect(res.errors, `seeding failed: ${JSON.stringify(res.errors)}`).toBeUndefined();
  return res.data!;
}

/** A workspace with both vendors, anonymous and identified profiles, merges and deliveries. */
async function seededWorkspace(): Promise<Workspace> {
  const { workspaceId, key } = await gw.newWorkspace(VENDORS);
  const anonIds = [anAnonId(), anAnonId(), anAnonId(), anAnonId()];
  const externalIds = [anExternalId(), anExternalId(), anExternalId()];
  const aliasNames = [anExternalId('alias'), anExternalId('alias')];
  await ok(key, TRACK, {
    input: {
      attributes: [
        { anonId: anonIds[0], email: 'ann@example.com', customAttributes: { plan: 'pro' } },
        { anonId: anonIds[2], email: 'ann@example.com', firstName: 'Ann' },
      ],
      events: [
        ...anonIds.map((anonId) => ({ anonId, ...anEvent() })),
        ...externalIds.map((externalId) => ({ externalId, ...anEvent() })),
        ...aliasNames.map((aliasName) => ({
          userAlias: { aliasLabel: 'crm', aliasName },
          ...anEvent(),
        })),
      ],
    },
  });
  const identified = await ok(key, IDENTIFY, {
    input: {
      anonIdsToIdentify: [
        { externalId: externalIds[0], anonId: anonIds[0] },
        { externalId: externalIds[1], anonId: anonIds[1] },
      ],
    },
  });
  const mergeIds = identified.identifyUsers.results.map((r: any) => r.merge.id as string);
  const listed = await ok(key, `{ deliveries(first: 100) { edges { node { id } } } }`);
  const deliveryIds = listed.deliveries.edges.map((e: any) => e.node.id as string);
  const victimKeyIds: string[] = [];
  for (const name of ['victim-1', 'victim-2']) {
    const made = await ok(key, CREATE_KEY, { input: { name, scopes: ['profiles:read'] } });
    victimKeyIds.push(made.createApiKey.apiKey.id as string);
  }
  expect(mergeIds).toHaveLength(2);
  expect(deliveryIds.length).toBeGreaterThan(0);
  return {
    workspaceId,
    key,
    anonIds,
    externalIds,
    aliasNames,
    mergeIds,
    deliveryIds,
    victimKeyIds,
  };
}

const SNAPSHOT = `{
  profiles { totalCount }
  aliases { totalCount }
  merges(first: 100) { totalCount edges { node { id undoneAt } } }
  deliveries(first: 100) { totalCount edges { node { id status attempts nextAttemptAt lastError } } }
  erasures(first: 100) { totalCount edges { node { id status } } }
}`;

/** What a rejected request must leave as it was: counts, undo marks, delivery states, keys. */
async function snapshot(ws: { workspaceId: string; key: string }) {
  const res = await gw.gql(ws.key, SNAPSHOT);
  expect(res.errors, `the snapshot query failed: ${JSON.stringify(res.errors)}`).toBeUndefined();
  const [keys] = await gw.database.db
    .select({ total: count(), revoked: count(apiKeys.revokedAt) })
    .from(apiKeys)
    .where(eq(apiKeys.workspaceId, ws.workspaceId));
  const [suppressed] = await gw.database.db
    .select({ total: count() })
    .from(suppressions)
    .where(eq(suppressions.workspaceId, ws.workspaceId));
  return { ...res.data, keys, suppressed };
}

/** Workspaces stored under the name a createWorkspace asked for (null: cannot be asked). */
async function workspacesNamed(input: unknown): Promise<number | null> {
  const name: unknown = (input as { name?: unknown } | null)?.name;
  if (typeof name !== 'string' || name.includes('\u0000') || name.length > 10_000) return null;
  const [row] = await gw.database.db
    .select({ n: count() })
    .from(workspaces)
    .where(eq(workspaces.name, name.trim()));
  return row.n;
}

/** Whatever a workspace accepted reads back whole: no error at all, not even a public one. */
async function expectReadsBack(key: string) {
  let after: string | null = null;
  do {
    const answer = await postGql(key, READ_BACK, { after });
    expectWellFormed(answer);
    expect(
      answer.body?.errors,
      `accepted data does not read back: ${shown(answer)}`,
    ).toBeUndefined();
    const page = answer.body?.data?.profiles?.pageInfo;
    after = page?.hasNextPage ? page.endCursor : null;
  } while (after !== null);
}

/**
 * Sends one mutation and checks its answer; when it was rejected, checks that the workspace is
 * as it was before (and whatever `extra` measures).
 */
async function exercise(
  ws: { workspaceId: string; key: string },
  key: string,
  query: string,
  variables: Record<string, unknown>,
  extra?: () => Promise<unknown>,
): Promise<Answer> {
  const before = await snapshot(ws);
  const extraBefore = await extra?.();
  const answer = await postGql(key, query, variables);
  // Writes first: a failure that also left rows behind is the worse news.
  if (rejected(answer)) {
    expect(await snapshot(ws), `a rejected request wrote something: ${shown(answer)}`).toEqual(
      before,
    );
    if (extra)
      expect(await extra(), `a rejected request wrote: ${shown(answer)}`).toEqual(extraBefore);
  }
  expectWellFormed(answer);
  return answer;
}

// ---------------------------------------------------------------------------------------------
// Hostile values
// ---------------------------------------------------------------------------------------------

const NUL = '\u0000';
const LONG = 10_000;
const HOSTILE_STRINGS: readonly string[] = [
  '',
  ' ',
  NUL,
  `a${NUL}b`,
  `user${NUL}`,
  '😀',
  '👩‍👩‍👧‍👦 family',
  '\u202Eevil\u202C',
  '\u200F\u05E9\u05DC\u05D5\u05DD\u200E',
  "'; drop table profiles; --",
  "' or '1'='1",
  '\\',
  '%',
  '_',
  '%_%\\',
  '"',
  '`',
  '$1',
  '{}',
  '[]',
  'null',
  'undefined',
  '0',
  'NaN',
  '-1',
  '\uD800',
  'lone \uDC00 low',
  '\r\n',
  '\t',
  '\u2028\u2029',
  '\uFEFF',
  '<script>alert(1)</script>',
  '../../etc/passwd',
  '$device:',
  '${7*7}',
  'x'.repeat(256),
];
const LONG_STRINGS: readonly string[] = [
  'x'.repeat(LONG),
  '😀'.repeat(LONG / 2),
  NUL.repeat(LONG),
  "'".repeat(LONG),
  '\u202E'.repeat(LONG),
];

const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 1, arbitrary: fc.constantFrom(...LONG_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }))
      .map(([a, b]) => `${a}${NUL}${b}`),
  },
);

/** Values of the wrong type for nearly any field (undefined: the field is left out). */
const wrongType: fc.Arbitrary<unknown> = fc.constantFrom<unknown>(
  42,
  -1,
  1.5,
  true,
  false,
  null,
  undefined,
  [],
  ['a'],
  {},
  { a: 1 },
  2147483648,
  -2147483649,
  Number.MAX_SAFE_INTEGER,
  1e308,
);

/**
 * How often a field gets a hostile value. Harsh inputs are mostly refused by validation; mild
 * ones put one or two hostile values into otherwise valid input, so that they reach the database.
 */
const HARSH = { valid: 10, hostile: 3, wrong: 1 };
const MILD = { valid: 300, hostile: 3, wrong: 0 };
let weights = HARSH;

/** Builds arbitraries whose fields are only mildly hostile. */
function mildly<T>(build: () => T): T {
  weights = MILD;
  try {
    return build();
  } finally {
    weights = HARSH;
  }
}

/** Mostly the valid-looking value, else a hostile string or a wrong type. */
function fuzz(valid: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: weights.valid, arbitrary: valid },
    { weight: weights.hostile, arbitrary: hostileString },
    ...(weights.wrong > 0 ? [{ weight: weights.wrong, arbitrary: wrongType }] : []),
  );
}

/** Harsh and mild inputs of one kind, half and half. */
const harshAndMild = (build: () => fc.Arbitrary<unknown>) => fc.oneof(build(), mildly(build));

/** Short lists mostly; sometimes at and past the limits (50, 75, 100), up to 200 items. */
function list(item: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  const repeated = (min: number, max: number) =>
    fc.tuple(item, fc.integer({ min, max })).map(([x, n]) => Array.from({ length: n }, () => x));
  return fc.oneof(
    { weight: weights.wrong > 0 ? 12 : 100, arbitrary: fc.array(item, { maxLength: 3 }) },
    { weight: 1, arbitrary: repeated(49, 52) },
    { weight: 1, arbitrary: repeated(74, 101) },
    { weight: 1, arbitrary: repeated(150, 200) },
    ...(weights.wrong > 0
      ? [{ weight: weights.wrong, arbitrary: fc.constantFrom<unknown>(null, 'x', 1, {}) }]
      : []),
  );
}

/** A valid value, or (as often as hostile strings are chosen) one at or past an edge. */
function edgy(valid: fc.Arbitrary<unknown>, edge: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: weights.valid, arbitrary: valid },
    { weight: weights.hostile * 2, arbitrary: edge },
  );
}

const MAX_INT = 2147483647;
const INT_EDGES: readonly unknown[] = [
  0,
  -1,
  101,
  2147483647,
  -2147483648,
  2147483648,
  -2147483649,
  1.5,
  '1',
  1e21,
  -0,
];
/** An Int argument: valid within [min, max], else at the Int limits or not an Int at all. */
const intish = (min: number, max: number) =>
  edgy(fc.integer({ min, max }), fc.oneof(fc.constantFrom(...INT_EDGES), fc.integer()));

const recentIso = fc
  .integer({ min: 1_000, max: 20 * 86_400_000 })
  .map((ago) => new Date(Date.now() - ago).toISOString());
const DATE_EDGES: readonly unknown[] = [
  '0001-01-01T00:00:00Z',
  '0000-01-01T00:00:00Z',
  '1970-01-01T00:00:00Z',
  '2038-01-19T03:14:08Z',
  '9999-12-31T23:59:59.999Z',
  '2026-02-30T00:00:00Z',
  '2026-01-01T24:00:00Z',
  '2026-01-01T00:00:00+14:00',
  '2026-01-01T00:00:00.123456789Z',
  '+275760-09-13T00:00:00Z',
  '2026-01-01',
  'not-a-date',
  1_700_000_000_000,
];
const dateTime = () =>
  edgy(
    recentIso,
    fc.oneof(
      fc.constantFrom(...DATE_EDGES),
      fc.constant(null).map(() => new Date(Date.now() + 2 * 3_600_000).toISOString()),
    ),
  );

/** A page cursor in the gateway's format (c1: + JSON, base64url) around any values. */
const cursorOf = (values: unknown) =>
  Buffer.from(`c1:${JSON.stringify(values)}`, 'utf8').toString('base64url');

function nest(depth: number, leaf: unknown, asArray = false): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = asArray ? [v] : { a: v };
  return v;
}

const jsonLeaf = () =>
  fuzz(
    fc.oneof(
      fc.constantFrom('pro', 'Zoë', '😀', "O'Brien", ''),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.constantFrom<unknown>(null, 1e308, 5e-324, 2 ** 63, -(2 ** 63), [], {}, [1, 'a']),
    ),
  );
const jsonKey = () =>
  fuzz(
    fc.constantFrom(
      'plan',
      'tier',
      'score',
      'toString',
      'hasOwnProperty',
      'valueOf',
      'constructor',
    ),
  ).map((k) => (typeof k === 'string' ? k : (JSON.stringify(k) ?? 'undefined')));
const POLLUTING = JSON.parse(
  '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"plan":"x"}',
) as Record<string, unknown>;
const WIDE = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, i]));
/** A JSONObject value: small objects of hostile keys and values, or deep, wide and odd ones. */
const jsonObject = () =>
  edgy(
    fc.dictionary(jsonKey(), jsonLeaf(), { maxKeys: 4 }),
    fc.oneof(
      fc.constantFrom(8, 9, 50, 2000).map((d) => ({ deep: nest(d, 'end') })),
      fc.constantFrom(8, 9, 50).map((d) => ({ list: nest(d, 1, true) })),
      fc.constant(WIDE),
      fc.constant({ big: Array.from({ length: 200 }, (_, i) => ({ i, s: 'x'.repeat(40) })) }),
      fc.constant(POLLUTING),
      fc.constantFrom<unknown>('{"a":1}', 1, [], [{ a: 1 }], null, true),
    ),
  );

const eventName = fc.constantFrom('viewed_page', 'signup', '$identify', 'Purchase Made');
const text = fc.constantFrom('Ada', 'de la Cruz', "O'Brien", 'Zoë', 'FR', 'en-GB', 'Europe/Paris');
const email = () =>
  edgy(
    fc.constantFrom('ann@example.com', ' Ann@Example.COM ', 'bob@example.com', 'a@b'),
    fc.constantFrom('@', 'ann@', 'ann example.com', 'a@b@c'),
  );
const labels = () =>
  edgy(fc.constantFrom('crm', 'braze_alias', 'CRM', ' crm '), fc.constant('anon_id'));

/** Arbitraries that name a seeded workspace's users, or new ones. */
function usersOf(ws: Workspace) {
  const externalId = fc.oneof(
    fc.constantFrom(...ws.externalIds),
    fc.nat().map((n) => `fz-user-${n}`),
    fc.uuid(),
  );
  const anonId = edgy(
    fc.oneof(
      fc.constantFrom(...ws.anonIds),
      fc.uuid({ version: 4 }),
      fc.uuid({ version: 4 }).map((u) => `$device:${u}`),
      fc.uuid({ version: 4 }).map((u) => u.toUpperCase()),
    ),
    fc.oneof(
      fc.uuid({ version: [1, 7] }),
      fc.uuid({ version: 4 }).map((u) => `$DEVICE:${u}`),
      fc.uuid({ version: 4 }).map((u) => `{${u}}`),
    ),
  );
  const aliasName = fc.oneof(
    fc.constantFrom(...ws.aliasNames),
    fc.nat().map((n) => `fz-alias-${n}`),
  );
  const userAlias = fc.record({ aliasLabel: fuzz(labels()), aliasName: fuzz(aliasName) });
  const ref: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
    { weight: 3, arbitrary: fc.record({ externalId: fuzz(externalId) }) },
    { weight: 3, arbitrary: fc.record({ anonId: fuzz(anonId) }) },
    { weight: 2, arbitrary: fc.record({ userAlias: fuzz(userAlias) }) },
    // None, or more than one.
    ...(weights.wrong > 0
      ? [
          {
            weight: weights.wrong,
            arbitrary: fc.record(
              { externalId: fuzz(externalId), anonId: fuzz(anonId), userAlias: fuzz(userAlias) },
              { requiredKeys: [] },
            ),
          },
        ]
      : []),
  );
  const withRef = (fields: fc.Arbitrary<Record<string, unknown>>) =>
    fc.tuple(ref, fields).map(([r, f]) => ({ ...r, ...f }));
  return { externalId, anonId, aliasName, userAlias, ref, withRef };
}

/** The whole input, sometimes replaced by a wrong value or given an unknown field. */
function topLevel(input: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  if (weights.wrong === 0) return input;
  return fc.oneof(
    { weight: 12, arbitrary: input },
    { weight: 1, arbitrary: input.map((i) => ({ ...(i as object), unknownField: 1 })) },
    { weight: 1, arbitrary: fc.oneof(hostileString, wrongType) },
  );
}

function trackInput(ws: Workspace) {
  const u = usersOf(ws);
  return topLevel(
    fc.record(
      {
        attributes: list(
          u.withRef(
            fc.record(
              {
                email: fuzz(email()),
                firstName: fuzz(text),
                lastName: fuzz(text),
                gender: fuzz(fc.constantFrom('F', 'M', 'O')),
                dateOfBirth: fuzz(fc.constantFrom('1990-01-01', '1900-02-29')),
                phone: fuzz(fc.constantFrom('+33612345678', '0612')),
                timeZone: fuzz(text),
                homeCity: fuzz(text),
                country: fuzz(text),
                language: fuzz(text),
                customAttributes: jsonObject(),
              },
              { requiredKeys: [] },
            ),
          ),
        ),
        events: list(
          u.withRef(
            fc.record(
              { name: fuzz(eventName), time: fuzz(dateTime()), properties: jsonObject() },
              { requiredKeys: ['name', 'time'] },
            ),
          ),
        ),
        purchases: list(
          u.withRef(
            fc.record(
              {
                productId: fuzz(fc.constantFrom('sku-1', 'sku-2')),
                priceCents: intish(0, 1_000_000),
                currency: fuzz(
                  edgy(fc.constantFrom('USD', 'EUR'), fc.constantFrom('usd', 'US', 'EURO')),
                ),
                quantity: intish(1, 100),
                time: fuzz(dateTime()),
              },
              { requiredKeys: ['productId', 'priceCents', 'time'] },
            ),
          ),
        ),
        sessions: list(
          u.withRef(
            fc
              .record(
                {
                  appId: fuzz(fc.constantFrom('ios', 'web')),
                  startedAt: fuzz(dateTime()),
                  // Seconds after startedAt when it is a date; else an end of its own.
                  endedAt: edgy(fc.integer({ min: 0, max: 86_400 }), fuzz(dateTime())),
                },
                { requiredKeys: ['startedAt'] },
              )
              .map((session) => {
                const { startedAt, endedAt } = session;
                if (typeof endedAt !== 'number') return session;
                const start = typeof startedAt === 'string' ? Date.parse(startedAt) : NaN;
                const end = new Date(start + endedAt * 1000);
                // Past JavaScript's last date (or no date at all): end when it starts.
                if (Number.isNaN(end.getTime())) return { ...session, endedAt: startedAt };
                return { ...session, endedAt: end.toISOString() };
              }),
          ),
        ),
        pushTokens: list(
          u.withRef(
            fc.record(
              {
                appId: fuzz(fc.constantFrom('ios', 'web')),
                token: fuzz(fc.constantFrom('tok-1', 'tok-2', 'x'.repeat(4096))),
                platform: fuzz(fc.constantFrom('ios', 'android')),
              },
              { requiredKeys: ['appId', 'token'] },
            ),
          ),
        ),
      },
      { requiredKeys: [] },
    ),
  );
}

function aliasesInput(ws: Workspace) {
  const u = usersOf(ws);
  return topLevel(
    fc.record({
      userAliases: list(
        fc.record(
          {
            aliasLabel: fuzz(labels()),
            aliasName: fuzz(u.aliasName),
            externalId: fuzz(u.externalId),
          },
          { requiredKeys: ['aliasLabel', 'aliasName'] },
        ),
      ),
    }),
  );
}

const PRIORITIES = [
  'IDENTIFIED',
  'UNIDENTIFIED',
  'MOST_RECENTLY_UPDATED',
  'LEAST_RECENTLY_UPDATED',
];
const prioritization = () =>
  edgy(
    fc.uniqueArray(fc.constantFrom(...PRIORITIES), { minLength: 1, maxLength: 4 }),
    fc.array(fc.constantFrom(...PRIORITIES, 'identified', 'NEWEST'), { maxLength: 6 }),
  );

function identifyInput(ws: Workspace) {
  const u = usersOf(ws);
  return topLevel(
    fc.record(
      {
        aliasesToIdentify: list(
          fc.record({ externalId: fuzz(u.externalId), userAlias: fuzz(u.userAlias) }),
        ),
        anonIdsToIdentify: list(
          fc.record({ externalId: fuzz(u.externalId), anonId: fuzz(u.anonId) }),
        ),
        emailsToIdentify: list(
          fc.record({
            externalId: fuzz(u.externalId),
            email: fuzz(email()),
            prioritization: fuzz(prioritization()),
          }),
        ),
        dryRun: fuzz(fc.boolean()),
        idempotencyKey: fuzz(fc.uuid()),
        mergeBehavior: fuzz(
          edgy(fc.constantFrom('MERGE', 'NONE'), fc.constantFrom('merge', 'SPLIT')),
        ),
      },
      { requiredKeys: [] },
    ),
  );
}

/** People to forget, named as profile(by:) names them: by each identifier, a profile id, or wrongly. */
function lookups(ws: Workspace) {
  const u = usersOf(ws);
  const one: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
    fc.record({ externalId: fuzz(u.externalId) }),
    fc.record({ anonId: fuzz(u.anonId) }),
    fc.record({ alias: fuzz(u.userAlias) }),
    fc.record({ email: fuzz(email()) }),
    fc.record({ id: fuzz(fc.uuid()) }),
    ...(weights.wrong > 0
      ? [
          fc.record(
            { externalId: fuzz(u.externalId), anonId: fuzz(u.anonId), id: fuzz(fc.uuid()) },
            { requiredKeys: [] },
          ),
        ]
      : []),
  );
  return list(one);
}

function forgetInput(ws: Workspace) {
  return topLevel(
    fc.record(
      {
        users: lookups(ws),
        reason: fuzz(fc.string({ maxLength: 220 })),
        suppress: fuzz(fc.boolean()),
        dryRun: fuzz(fc.boolean()),
        idempotencyKey: fuzz(fc.uuid()),
      },
      { requiredKeys: ['users'] },
    ),
  );
}

const SCOPES = [
  'profiles:read',
  'users:track',
  'users:alias',
  'users:identify',
  'deliveries:write',
  'admin',
];
/** Unknown, or (root) more than an admin key may grant. */
const BAD_SCOPES = ['root', 'PROFILES:READ', 'profiles:*', '*', ''];

const keyInput = () =>
  topLevel(
    fc.record({
      name: fuzz(fc.constantFrom('frontend', 'ci', ' padded ')),
      scopes: edgy(
        fc.array(fuzz(fc.constantFrom(...SCOPES)), { minLength: 1, maxLength: 4 }),
        fc.oneof(
          fc.array(fc.constantFrom(...SCOPES, ...BAD_SCOPES), { maxLength: 4 }),
          list(fc.constantFrom(...SCOPES, ...BAD_SCOPES)),
          fc.oneof(hostileString, wrongType),
        ),
      ),
    }),
  );

const GOOD_URLS = [
  'https://rest.fra-01.braze.eu',
  'https://api-eu.mixpanel.com/',
  'http://127.0.0.1:9/',
  'https://例え.jp',
];
const BAD_URLS = [
  'https://u:p@x.example',
  'ftp://x.example',
  'javascript:alert(1)',
  `https://x.example/${NUL}`,
  `https://x.example/path?q=${NUL}`,
  `https://exa${NUL}mple.com`,
  'https://x.example/%00',
  'https://[::1]/',
  `https://x.example/${'a'.repeat(LONG)}`,
  'not a url',
];

const workspaceInput = () => {
  const url = edgy(fc.constantFrom(...GOOD_URLS), fc.constantFrom(...BAD_URLS));
  return topLevel(
    fc.record(
      {
        name: fuzz(fc.nat().map((n) => `fz-ws-${n}`)),
        anonIdLabel: fuzz(fc.constantFrom('anon_id', 'device_id')),
        mixpanel: fuzz(
          fc
            .record(
              {
                token: fuzz(fc.constantFrom('mp-token')),
                apiHost: fuzz(url),
                idMerge: fuzz(
                  edgy(fc.constantFrom('ORIGINAL', 'SIMPLIFIED'), fc.constant('original')),
                ),
                // A service account and a project id go together (or neither).
                account: edgy(
                  fc.constantFrom({}, { serviceAccount: 'user:secret', projectId: '123' }),
                  fc.record(
                    {
                      serviceAccount: fuzz(
                        fc.constantFrom('user:secret', `a${NUL}:b`, `user:se${NUL}cret`, 'u:s p'),
                      ),
                      projectId: fuzz(fc.constantFrom('123', '0', `12${NUL}3`)),
                    },
                    { requiredKeys: [] },
                  ),
                ),
              },
              { requiredKeys: ['token', 'account'] },
            )
            .map(({ account, ...mixpanel }) => ({ ...mixpanel, ...(account as object) })),
        ),
        braze: fuzz(
          fc.record({
            apiKey: fuzz(fc.constantFrom('braze-secret')),
            restEndpoint: fuzz(url),
          }),
        ),
      },
      { requiredKeys: ['name'] },
    ),
  );
};

// ---------------------------------------------------------------------------------------------
// 1 + 2. Every mutation fuzzed; whatever is rejected writes nothing
// ---------------------------------------------------------------------------------------------

const RUNS = 40;
const LONG_TEST = 180_000;

describe('every mutation with hostile variables', () => {
  it(
    'trackUsers: never 500, only public codes, nothing written when rejected, and all of it reads back',
    async () => {
      const ws = await seededWorkspace();
      await fc.assert(
        fc.asyncProperty(
          harshAndMild(() => trackInput(ws)),
          async (input) => {
            await exercise(ws, ws.key, TRACK, { input });
          },
        ),
        { numRuns: RUNS },
      );
      await expectReadsBack(ws.key);
    },
    LONG_TEST,
  );

  it(
    'trackUsers: numbers at the Int limits are refused, or read back (sums saturate at Int max)',
    async () => {
      const { key } = await gw.newWorkspace();
      const PROFILE_SUMS = `query ($x: String!) {
        profile(by: { externalId: $x }) {
          sessionCount purchases { count totalCents totalCentsExact } apps { sessionCount totalSeconds }
        }
      }`;
      const limits = fc.record({
        priceCents: fc.oneof(
          fc.integer({ min: 0, max: 2147483647 }),
          fc.constantFrom(0, 1, 2147483647),
        ),
        quantity: fc.integer({ min: 1, max: 100 }),
        purchases: fc.integer({ min: 1, max: 3 }),
        sessionSeconds: fc.oneof(
          fc.integer({ min: 0, max: 86_400 }),
          fc.integer({ min: 2147483647 - 5, max: 2147483647 + 5 }),
          fc.constant(63_000_000_000),
        ),
      });
      await fc.assert(
        fc.asyncProperty(limits, async ({ priceCents, quantity, purchases, sessionSeconds }) => {
          const externalId = anExternalId();
          const end = Date.now() - 60_000;
          const tracked = await postGql(key, TRACK, {
            input: {
              purchases: Array.from({ length: purchases }, () => ({
                externalId,
                productId: 'sku-max',
                priceCents,
                quantity,
                time: new Date(end).toISOString(),
              })),
              sessions: [
                {
                  externalId,
                  appId: 'ios',
                  startedAt: new Date(end - sessionSeconds * 1000).toISOString(),
                  endedAt: new Date(end).toISOString(),
                },
              ],
            },
          });
          expectWellFormed(tracked);
          if (rejected(tracked)) {
            // Refusing numbers it cannot give back is fine, as a caller's error.
            const refused = (tracked.body.errors as any[]).map((e) => e.extensions?.code);
            expect(refused, shown(tracked)).toEqual(['BAD_USER_INPUT']);
            return;
          }
          const read = await postGql(key, PROFILE_SUMS, { x: externalId });
          expectWellFormed(read);
          expect(
            read.body?.errors,
            `accepted sums do not read back: ${shown(read)}`,
          ).toBeUndefined();
          // GraphQL's Int is 32-bit: Int fields saturate, the exact sum goes out as a string.
          const cents = priceCents * quantity * purchases;
          expect(read.body.data.profile.purchases).toEqual({
            count: purchases * quantity,
            totalCents: Math.min(cents, MAX_INT),
            totalCentsExact: String(cents),
          });
          expect(read.body.data.profile.apps).toMatchObject([
            { sessionCount: 1, totalSeconds: Math.min(sessionSeconds, MAX_INT) },
          ]);
        }),
        { numRuns: 30 },
      );
    },
    LONG_TEST,
  );

  it(
    'createAliases: never 500, only public codes, nothing written when rejected',
    async () => {
      const ws = await seededWorkspace();
      await fc.assert(
        fc.asyncProperty(
          harshAndMild(() => aliasesInput(ws)),
          async (input) => {
            await exercise(ws, ws.key, ALIASES, { input });
          },
        ),
        { numRuns: RUNS },
      );
      await expectReadsBack(ws.key);
    },
    LONG_TEST,
  );

  it(
    'identifyUsers: never 500, only public codes, nothing written when rejected',
    async () => {
      const ws = await seededWorkspace();
      await fc.assert(
        fc.asyncProperty(
          harshAndMild(() => identifyInput(ws)),
          async (input) => {
            await exercise(ws, ws.key, IDENTIFY, { input });
          },
        ),
        { numRuns: RUNS },
      );
      await expectReadsBack(ws.key);
    },
    LONG_TEST,
  );

  it(
    'forgetUsers and liftSuppression: never 500, only public codes, nothing written when rejected',
    async () => {
      const ws = await seededWorkspace();
      await fc.assert(
        fc.asyncProperty(
          harshAndMild(() => forgetInput(ws)),
          fc.boolean(),
          async (input, lift) => {
            if (lift) {
              const users = (input as { users?: unknown } | null)?.users ?? input;
              await exercise(ws, ws.key, LIFT, { users });
            } else {
              await exercise(ws, ws.key, FORGET, { input });
            }
          },
        ),
        { numRuns: RUNS },
      );
      await expectReadsBack(ws.key);
    },
    LONG_TEST,
  );

  it(
    'createApiKey: never 500, only public codes, no key made when rejected',
    async () => {
      const ws = await seededWorkspace();
      await fc.assert(
        fc.asyncProperty(harshAndMild(keyInput), async (input) => {
          await exercise(ws, ws.key, CREATE_KEY, { input });
        }),
        { numRuns: RUNS },
      );
    },
    LONG_TEST,
  );

  it(
    'revokeApiKey: never 500, only public codes, nothing revoked when rejected',
    async () => {
      const ws = await seededWorkspace();
      const id = fuzz(
        fc.oneof(
          fc.constantFrom(...ws.victimKeyIds),
          fc.constantFrom(...ws.victimKeyIds).map((k) => k.toUpperCase()),
          fc.constantFrom(...ws.mergeIds),
          fc.uuid(),
          fc.constantFrom('1', '00000000-0000-0000-0000-000000000000'),
        ),
      );
      await fc.assert(
        fc.asyncProperty(id, async (value) => {
          await exercise(ws, ws.key, REVOKE_KEY, { id: value });
        }),
        { numRuns: RUNS },
      );
    },
    LONG_TEST,
  );

  it(
    'retryDeliveries: never 500, only public codes, nothing requeued when rejected',
    async () => {
      const ws = await seededWorkspace();
      const deliveryId = fuzz(
        fc.oneof(
          fc.constantFrom(...ws.deliveryIds),
          fc.constantFrom(...ws.deliveryIds).map(Number),
          fc.constantFrom(
            '1',
            '0',
            '01',
            ' 1',
            '1.0',
            '1e3',
            '-1',
            '999999999999999',
            '9999999999999999',
            '99999999999999999999999',
            '2147483648',
            '9223372036854775808',
          ),
          fc.nat().map(String),
          fc.uuid(),
        ),
      );
      await fc.assert(
        fc.asyncProperty(list(deliveryId), async (ids) => {
          await exercise(ws, ws.key, RETRY, { ids });
        }),
        { numRuns: RUNS },
      );
    },
    LONG_TEST,
  );

  it(
    'undoMerge: never 500, only public codes, nothing undone when rejected',
    async () => {
      const ws = await seededWorkspace();
      const id = fuzz(
        fc.oneof(
          fc.constantFrom(...ws.mergeIds),
          fc.constantFrom(...ws.mergeIds).map((m) => m.toUpperCase()),
          fc.constantFrom(...ws.victimKeyIds),
          fc.uuid(),
          fc.constantFrom('1', '00000000-0000-0000-0000-000000000000', `{${ws.mergeIds[0]}}`),
        ),
      );
      await fc.assert(
        fc.asyncProperty(id, async (value) => {
          await exercise(ws, ws.key, UNDO, { id: value });
        }),
        { numRuns: RUNS },
      );
      await expectReadsBack(ws.key);
    },
    LONG_TEST,
  );

  it(
    'createWorkspace (root key): never 500, only public codes, no workspace made when rejected',
    async () => {
      const ws = await seededWorkspace();
      const root = await gw.newKey(ws.workspaceId, ['root', 'admin']);
      await fc.assert(
        fc.asyncProperty(harshAndMild(workspaceInput), async (input) => {
          const answer = await exercise(ws, root, CREATE_WORKSPACE, { input }, () =>
            workspacesNamed(input),
          );
          // A workspace that was made works with its own key.
          const created = answer.body?.data?.createWorkspace;
          if (created) expectWellFormed(await postGql(created.apiKey.key, `{ workspace { id } }`));
        }),
        { numRuns: RUNS },
      );
    },
    LONG_TEST,
  );
});

// ---------------------------------------------------------------------------------------------
// 2. Mostly-valid batches with one poisoned item: refused whole, nothing written
// ---------------------------------------------------------------------------------------------

const future = () => new Date(Date.now() + 2 * 3_600_000).toISOString();
const BAD_REF: readonly Record<string, unknown>[] = [
  { externalId: 'null' },
  { externalId: `a${NUL}b` },
  { externalId: 'x'.repeat(256) },
  { externalId: ' padded ' },
  { anonId: 'not-a-uuid' },
  { anonId: 'c232ab00-9414-11ec-b3c8-9f6bdeced846' },
  { userAlias: { aliasLabel: ' ', aliasName: 'crm-1' } },
  { userAlias: { aliasLabel: 'crm', aliasName: `crm${NUL}` } },
  { externalId: 'user-1', anonId: '0b7a4d8e-7a3c-4a2e-9d5b-1c2d3e4f5a6b' },
];
/** Changes that make one trackUsers item malformed. */
const TRACK_POISONS: readonly ((item: Record<string, unknown>) => Record<string, unknown>)[] = [
  (item) => ({ ...item, name: '' }),
  (item) => ({ ...item, name: `a${NUL}` }),
  (item) => ({ ...item, name: 'x'.repeat(256) }),
  (item) => ({ ...item, time: future() }),
  (item) => ({ ...item, properties: nest(50, 'end') }),
  (item) => ({ ...item, properties: { k: `v${NUL}` } }),
  (item) => ({ ...item, properties: { [`k${NUL}`]: 1 } }),
];

interface Poisoned {
  readonly valid: number;
  readonly at: number;
  readonly poison: number;
  readonly ref: number;
}
const poisoned = (poisons: number): fc.Arbitrary<Poisoned> =>
  fc.record({
    valid: fc.integer({ min: 1, max: 8 }),
    at: fc.nat(),
    poison: fc.nat({ max: poisons - 1 }),
    ref: fc.nat({ max: BAD_REF.length - 1 }),
  });

/** A fresh workspace with anonymous profiles to identify and identified ones to merge into. */
async function freshWorkspace() {
  const { workspaceId, key } = await gw.newWorkspace(VENDORS);
  const anonIds = Array.from({ length: 8 }, () => anAnonId());
  const externalIds = Array.from({ length: 4 }, () => anExternalId());
  await ok(key, TRACK, {
    input: {
      events: [
        ...anonIds.map((anonId) => ({ anonId, ...anEvent() })),
        ...externalIds.map((externalId) => ({ externalId, ...anEvent() })),
      ],
    },
  });
  return { workspaceId, key, anonIds, externalIds };
}

const POISON_RUNS = 25;

describe('a batch with one malformed item', () => {
  it(
    'trackUsers refuses it whole and writes nothing',
    async () => {
      const ws = await freshWorkspace();
      await fc.assert(
        fc.asyncProperty(poisoned(TRACK_POISONS.length + 1), async (p) => {
          const events = Array.from({ length: p.valid }, () => ({
            externalId: anExternalId(),
            ...anEvent({ properties: { plan: 'pro' } }),
          }));
          const attributes = [{ anonId: anAnonId(), firstName: 'New', customAttributes: { a: 1 } }];
          const at = p.at % events.length;
          events[at] =
            p.poison < TRACK_POISONS.length
              ? (TRACK_POISONS[p.poison](events[at]) as (typeof events)[number])
              : ({ ...anEvent(), ...BAD_REF[p.ref] } as (typeof events)[number]);
          const answer = await exercise(ws, ws.key, TRACK, { input: { attributes, events } });
          expect(
            rejected(answer),
            `a malformed item was accepted: ${JSON.stringify(events[at]).slice(0, 300)}`,
          ).toBe(true);
        }),
        { numRuns: POISON_RUNS },
      );
    },
    LONG_TEST,
  );

  it(
    'createAliases refuses it whole and writes nothing',
    async () => {
      const ws = await freshWorkspace();
      await fc.assert(
        fc.asyncProperty(poisoned(4), async (p) => {
          const userAliases: Record<string, unknown>[] = Array.from(
            { length: p.valid },
            (_, i) => ({
              aliasLabel: 'crm',
              aliasName: anExternalId('alias'),
              ...(i % 2 === 0 ? { externalId: ws.externalIds[i % ws.externalIds.length] } : {}),
            }),
          );
          const at = p.at % userAliases.length;
          const bad: Record<string, unknown>[] = [
            { aliasName: 'null' },
            { aliasName: `a${NUL}` },
            { aliasLabel: '' },
            { externalId: 'x'.repeat(256) },
          ];
          userAliases[at] = { ...userAliases[at], ...bad[p.poison] };
          const answer = await exercise(ws, ws.key, ALIASES, { input: { userAliases } });
          expect(rejected(answer), `a malformed alias was accepted: ${shown(answer)}`).toBe(true);
        }),
        { numRuns: POISON_RUNS },
      );
    },
    LONG_TEST,
  );

  it(
    'identifyUsers refuses it whole and writes nothing (no profile, merge or delivery)',
    async () => {
      await fc.assert(
        fc.asyncProperty(poisoned(5), async (p) => {
          const ws = await freshWorkspace();
          // Valid items that would identify anonymous profiles and merge two into known users.
          const anonIdsToIdentify: Record<string, unknown>[] = ws.anonIds
            .slice(0, p.valid)
            .map((anonId, i) => ({
              anonId,
              externalId: i < 2 ? ws.externalIds[i] : anExternalId(),
            }));
          const input: Record<string, unknown> = { anonIdsToIdentify };
          const at = p.at % anonIdsToIdentify.length;
          if (p.poison === 0)
            anonIdsToIdentify[at] = { ...anonIdsToIdentify[at], externalId: `a${NUL}` };
          if (p.poison === 1)
            anonIdsToIdentify[at] = { ...anonIdsToIdentify[at], externalId: 'x'.repeat(256) };
          if (p.poison === 2) input['idempotencyKey'] = ' ';
          if (p.poison === 3)
            input['emailsToIdentify'] = [
              { externalId: anExternalId(), email: 'ann@example.com', prioritization: [] },
            ];
          if (p.poison === 4)
            input['aliasesToIdentify'] = Array.from(
              { length: 51 - anonIdsToIdentify.length },
              () => ({
                externalId: anExternalId(),
                userAlias: { aliasLabel: 'crm', aliasName: anExternalId('alias') },
              }),
            );
          const answer = await exercise(ws, ws.key, IDENTIFY, { input });
          expect(rejected(answer), `a malformed request was accepted: ${shown(answer)}`).toBe(true);
        }),
        { numRuns: POISON_RUNS },
      );
    },
    LONG_TEST,
  );
});

// ---------------------------------------------------------------------------------------------
// Reads with hostile arguments
// ---------------------------------------------------------------------------------------------

describe('every read with hostile arguments', () => {
  it(
    'never 500 and only public codes',
    async () => {
      const ws = await seededWorkspace();
      const u = usersOf(ws);
      const cursor = fc.oneof(
        { weight: 2, arbitrary: hostileString },
        {
          weight: 2,
          arbitrary: fc.array(hostileString, { minLength: 1, maxLength: 2 }).map(cursorOf),
        },
        {
          weight: 1,
          arbitrary: fc.constantFrom(...ws.mergeIds, ...ws.deliveryIds).map((v) => cursorOf([v])),
        },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            cursorOf(['crm', ws.aliasNames[0]]),
            cursorOf([1]),
            cursorOf({}),
          ),
        },
      );
      const lookup = fc.oneof(
        fc.record({ id: fuzz(fc.constantFrom(...ws.mergeIds, ...ws.anonIds)) }),
        fc.record({ externalId: fuzz(u.externalId) }),
        fc.record({ email: fuzz(email()) }),
        fc.record({ anonId: fuzz(u.anonId) }),
        fc.record({ alias: fuzz(u.userAlias) }),
        fc.record(
          { id: hostileString, externalId: hostileString, email: hostileString },
          { requiredKeys: [] },
        ),
      );
      const read = fc.oneof(
        lookup.map((by) => ({
          query: `query ($by: ProfileLookup!) { profile(by: $by) { id externalId aliases { aliasName } } }`,
          variables: { by },
        })),
        fc
          .record(
            {
              email: fuzz(email()),
              first: intish(0, 100),
              after: cursor,
              identified: fuzz(fc.boolean()),
            },
            { requiredKeys: [] },
          )
          .map((variables) => ({
            query: `query ($email: String, $first: Int, $after: String, $identified: Boolean) {
              profiles(email: $email, first: $first, after: $after, identified: $identified) { totalCount edges { cursor node { id } } }
            }`,
            variables,
          })),
        fc
          .record(
            {
              label: fuzz(labels()),
              name: fuzz(u.aliasName),
              first: intish(0, 100),
              after: cursor,
            },
            { requiredKeys: [] },
          )
          .map((variables) => ({
            query: `query ($label: String, $name: String, $first: Int, $after: String) {
              aliases(aliasLabel: $label, aliasName: $name, first: $first, after: $after) { totalCount edges { cursor node { aliasName } } }
            }`,
            variables,
          })),
        fc
          .record(
            { profileId: fuzz(fc.uuid()), first: intish(0, 100), after: cursor },
            { requiredKeys: [] },
          )
          .map((variables) => ({
            query: `query ($profileId: ID, $first: Int, $after: String) {
              merges(profileId: $profileId, first: $first, after: $after) { totalCount edges { cursor node { id } } }
            }`,
            variables,
          })),
        fc
          .record(
            {
              first: intish(0, 100),
              after: cursor,
              vendor: fuzz(fc.constantFrom('BRAZE', 'MIXPANEL', 'braze')),
              status: fuzz(fc.constantFrom('PENDING', 'DEAD', 'dead')),
            },
            { requiredKeys: [] },
          )
          .map((variables) => ({
            query: `query ($first: Int, $after: String, $vendor: Vendor, $status: DeliveryStatus) {
              deliveries(first: $first, after: $after, vendor: $vendor, status: $status) { totalCount edges { cursor node { id } } }
            }`,
            variables,
          })),
      );
      await fc.assert(
        fc.asyncProperty(read, async ({ query, variables }) => {
          expectWellFormed(await postGql(ws.key, query, variables));
        }),
        { numRuns: 60 },
      );
    },
    LONG_TEST,
  );
});

// ---------------------------------------------------------------------------------------------
// 3. Raw HTTP against /graphql
// ---------------------------------------------------------------------------------------------

interface RawCase {
  readonly name: string;
  readonly method?: string;
  /** Appended to /graphql, e.g. ?query=... */
  readonly search?: string;
  readonly contentType?: string | null;
  readonly headers?: Record<string, string>;
  readonly body?: string | Uint8Array;
  /** Send the body chunked, without a content-length. */
  readonly stream?: boolean;
  readonly auth?: 'key' | 'none' | 'bad';
  /** The status it must have, when one is certain. */
  readonly status?: number;
}

/** Statuses a raw request may get: Apollo answers 405 for other methods and GET mutations. */
const RAW_STATUS = [200, 400, 401, 404, 405, 413, 415];
/** Apollo's own request-level code, public in format-error.ts. */
const RAW_EXTRA_CODES = ['OPERATION_RESOLUTION_FAILURE'];

let rawKey: string;

async function sendRaw(c: RawCase): Promise<Answer> {
  const headers: Record<string, string> = { ...c.headers };
  if (c.contentType !== null) headers['content-type'] = c.contentType ?? 'application/json';
  if (c.auth !== 'none') {
    headers['authorization'] = c.auth === 'bad' ? 'Bearer igw_not-a-real-key' : `Bearer ${rawKey}`;
  }
  const method = c.method ?? 'POST';
  let body: RequestInit['body'];
  if (c.body !== undefined && method !== 'GET' && method !== 'HEAD') {
    const bytes = typeof c.body === 'string' ? new TextEncoder().encode(c.body) : c.body;
    body = c.stream
      ? new ReadableStream<Uint8Array>({
          start(controller) {
            for (let i = 0; i < bytes.length; i += 64 * 1024)
              controller.enqueue(bytes.slice(i, i + 64 * 1024));
            controller.close();
          },
        })
      : bytes;
  }
  const init: RequestInit & { duplex?: 'half' } = { method, headers, body };
  if (c.stream) init.duplex = 'half';
  return answerOf(await fetch(`${gw.url}${c.search ?? ''}`, init));
}

async function expectRawHandled(c: RawCase) {
  const answer = await sendRaw(c);
  try {
    expectWellFormed(answer, RAW_STATUS, RAW_EXTRA_CODES);
    if (c.status !== undefined) expect(answer.status, shown(answer)).toBe(c.status);
  } catch (error) {
    (error as Error).message = `${c.name}: ${(error as Error).message}`;
    throw error;
  }
  const health = await fetch(`${base}/healthz`);
  expect(health.status, `healthz after ${c.name}`).toBe(200);
}

const json = (value: unknown) => JSON.stringify(value);
const TYPENAME = '{ __typename }';
const deepSelection = (levels: number, close = true) =>
  `{ ${'a { '.repeat(levels)}b${close ? ' }'.repeat(levels + 1) : ''}`;
const deepValidSelection = (levels: number) =>
  `{ profiles { edges { node { ${'merges { survivor { '.repeat(levels)}id${' } }'.repeat(levels)} } } } }`;
const MIB = 1024 * 1024;

const RAW_CASES: readonly RawCase[] = [
  // Malformed JSON.
  ...['{', '{"query":', `{"query": "${TYPENAME}",}`, `{'query': '${TYPENAME}'}`, 'NaN', NUL, '']
    .concat([`${json({ query: TYPENAME })}garbage`, `\uFEFF${json({ query: TYPENAME })}`])
    .map((body) => ({ name: `malformed JSON ${JSON.stringify(body.slice(0, 20))}`, body })),
  { name: 'bytes that are not UTF-8', body: new Uint8Array([0xff, 0xfe, 0x7b, 0xc3, 0x28, 0x7d]) },
  // JSON that is not an object.
  ...['[]', '1', 'null', json(TYPENAME), 'true', '[1,2]', '-0', '1e999'].map((body) => ({
    name: `JSON that is not an object: ${body}`,
    body,
  })),
  // Content types.
  { name: 'text/plain', contentType: 'text/plain', body: json({ query: TYPENAME }) },
  {
    name: 'form-urlencoded',
    contentType: 'application/x-www-form-urlencoded',
    body: `query=${encodeURIComponent(TYPENAME)}`,
  },
  {
    name: 'multipart',
    contentType: 'multipart/form-data; boundary=XyZ',
    body: `--XyZ\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${json({ query: TYPENAME })}\r\n--XyZ--\r\n`,
  },
  { name: 'application/graphql', contentType: 'application/graphql', body: TYPENAME },
  {
    name: 'JSON in UTF-16',
    contentType: 'application/json; charset=utf-16',
    body: json({ query: TYPENAME }),
  },
  {
    name: 'a +json type',
    contentType: 'application/vnd.api+json',
    body: json({ query: TYPENAME }),
  },
  {
    name: 'a type that starts like JSON',
    contentType: 'application/jsonx',
    body: json({ query: TYPENAME }),
  },
  {
    name: 'no content type',
    contentType: null,
    body: new TextEncoder().encode(json({ query: TYPENAME })),
  },
  // Missing or mistyped fields.
  ...[{}, { variables: {} }, { operationName: 'x' }, { extensions: {} }].map((b) => ({
    name: `missing query ${json(b)}`,
    body: json(b),
  })),
  ...[1, null, {}, [TYPENAME], true, ''].map((query) => ({
    name: `query that is not a string: ${json(query)}`,
    body: json({ query }),
  })),
  ...['x', 1, [], '{"a":1}', true].map((variables) => ({
    name: `variables that are not an object: ${json(variables)}`,
    body: json({ query: 'query ($a: String) { __typename }', variables }),
  })),
  ...[1, {}, 'Unknown', ''].map((operationName) => ({
    name: `operationName ${json(operationName)}`,
    body: json({ query: 'query A { __typename } query B { __typename }', operationName }),
  })),
  { name: 'extensions not an object', body: json({ query: TYPENAME, extensions: 'x' }) },
  {
    name: '60 invalid values in the variables',
    body: json({
      query: TRACK,
      variables: {
        input: { events: Array.from({ length: 60 }, () => ({ name: 'e', time: 'x' })) },
      },
    }),
  },
  // Lone surrogates: JSON.stringify escapes them, and jsonb refuses such escapes.
  ...[
    [
      'customAttributes',
      { attributes: [{ externalId: 'fz-s1', customAttributes: { k: '\uD800' } }] },
    ],
    [
      'a customAttributes key',
      { attributes: [{ externalId: 'fz-s2', customAttributes: { '\uDC00': 1 } }] },
    ],
    [
      'event properties',
      { events: [{ externalId: 'fz-s3', ...anEvent({ properties: { k: 'a\uDBFFb' } }) }] },
    ],
    ['firstName', { attributes: [{ externalId: 'fz-s4', firstName: '\uD800' }] }],
    ['an external id', { events: [{ externalId: 'fz-\uD800', ...anEvent() }] }],
    ['an external id, sent again', { events: [{ externalId: 'fz-\uD800', ...anEvent() }] }],
  ].map(([field, input]) => ({
    name: `a lone surrogate in ${field as string}`,
    body: json({ query: TRACK, variables: { input } }),
  })),
  // Workspace settings are stored as jsonb, which cannot hold NUL.
  ...[
    ['mixpanel.projectId', { token: 't', serviceAccount: 'user:secret', projectId: `1${NUL}` }],
    [
      'mixpanel.serviceAccount',
      { token: 't', serviceAccount: `us${NUL}er:secret`, projectId: '1' },
    ],
    ['mixpanel.apiHost', { token: 't', apiHost: `https://api.mixpanel.com/${NUL}` }],
  ].map(([field, mixpanel]) => ({
    name: `createWorkspace with a NUL in ${field as string}`,
    body: json({ query: CREATE_WORKSPACE, variables: { input: { name: 'fz-nul', mixpanel } } }),
  })),
  {
    name: 'createWorkspace with a NUL in braze.restEndpoint',
    body: json({
      query: CREATE_WORKSPACE,
      variables: {
        input: { name: 'fz-nul', braze: { apiKey: 'k', restEndpoint: `https://x.example/${NUL}` } },
      },
    }),
  },
  // Huge documents.
  {
    name: 'a 200 KB document of fields',
    body: json({ query: `{ ${'__typename '.repeat(200_000 / 11)}}` }),
  },
  { name: 'a 200 KB comment', body: json({ query: `#${'x'.repeat(200_000)}\n${TYPENAME}` }) },
  { name: 'a 200 KB document of white space', body: json({ query: ' '.repeat(200_000) }) },
  {
    name: 'a 200 KB string argument',
    body: json({ query: `{ profile(by: { externalId: "${'x'.repeat(200_000)}" }) { id } }` }),
  },
  {
    name: 'a 200 KB list argument',
    body: json({ query: `mutation { retryDeliveries(ids: [${'"1",'.repeat(50_000)}]) { id } }` }),
  },
  {
    name: 'a body over 1 MiB',
    body: json({ query: `#${'x'.repeat(MIB + 10)}\n${TYPENAME}` }),
    status: 413,
  },
  {
    name: 'a body over 1 MiB, chunked',
    body: json({ query: `#${'x'.repeat(MIB + 10)}\n${TYPENAME}` }),
    stream: true,
    status: 413,
  },
  {
    name: 'a body over 1 MiB without a key',
    body: 'x'.repeat(MIB + 10),
    auth: 'none',
    status: 413,
  },
  // Deep documents.
  { name: '500 levels of { a', body: json({ query: deepSelection(500) }) },
  { name: '500 unclosed levels of { a', body: json({ query: deepSelection(500, false) }) },
  { name: '5,000 levels of { a', body: json({ query: deepSelection(5_000) }) },
  { name: '50,000 levels of { a', body: json({ query: deepSelection(50_000) }) },
  { name: '50,000 unclosed levels', body: json({ query: deepSelection(50_000, false) }) },
  { name: '100 levels of real fields', body: json({ query: deepValidSelection(100) }) },
  {
    name: '10,000 nested list values',
    body: json({
      query: `{ profile(by: { externalId: ${'['.repeat(10_000)}"x"${']'.repeat(10_000)} }) { id } }`,
    }),
  },
  {
    name: '10,000 nested object values',
    body: json({
      query: `{ profile(by: ${'{ alias: '.repeat(10_000)}{}${' }'.repeat(10_000)}) { id } }`,
    }),
  },
  {
    name: 'a deeply nested variable',
    // Written out: JSON.stringify itself runs out of stack on it.
    body: `{"query":${json('mutation ($i: TrackUsersInput!) { trackUsers(input: $i) { message } }')},"variables":{"i":${'{"a":'.repeat(100_000)}{}${'}'.repeat(100_000)}}}`,
  },
  {
    name: 'a deeply nested list variable type',
    body: json({
      query: `query ($v: ${'['.repeat(5_000)}String${']'.repeat(5_000)}) { __typename }`,
      variables: { v: 'x' },
    }),
  },
  {
    name: 'a fragment cycle',
    body: json({
      query: 'query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }',
    }),
  },
  {
    name: '1,000 aliases of a big list',
    body: json({
      query: `{ ${Array.from({ length: 1000 }, (_, i) => `p${i}: profiles(first: 100) { edges { node { id aliases { aliasName } } } }`).join(' ')} }`,
    }),
  },
  {
    name: '5,000 repeated directives',
    body: json({ query: `{ __typename ${'@skip(if: false) '.repeat(5_000)}}` }),
  },
  {
    name: 'an Int literal far out of range',
    body: json({ query: `{ profiles(first: ${'9'.repeat(400)}) { totalCount } }` }),
  },
  {
    name: 'a Float literal of 1e999',
    body: json({ query: '{ profiles(first: 1e999) { totalCount } }' }),
  },
  // GET.
  {
    name: 'GET without the preflight header',
    method: 'GET',
    search: `?query=${encodeURIComponent(TYPENAME)}`,
    contentType: null,
  },
  {
    name: 'GET with the preflight header',
    method: 'GET',
    search: `?query=${encodeURIComponent('{ workspace { id } }')}`,
    contentType: null,
    headers: { 'apollo-require-preflight': 'true' },
    auth: 'key',
    status: 200,
  },
  {
    name: 'GET of a mutation',
    method: 'GET',
    search: `?query=${encodeURIComponent('mutation { retryDeliveries(ids: ["1"]) { id } }')}`,
    contentType: null,
    headers: { 'apollo-require-preflight': 'true' },
  },
  {
    name: 'GET with variables that are not JSON',
    method: 'GET',
    search: `?query=${encodeURIComponent(TYPENAME)}&variables=%7Bnope`,
    contentType: null,
    headers: { 'apollo-require-preflight': 'true' },
  },
  {
    name: 'GET with a NUL in the query',
    method: 'GET',
    search: `?query=%7B%20__typename%20%00%20%7D`,
    contentType: null,
    headers: { 'apollo-require-preflight': 'true' },
  },
  {
    name: 'GET without a query',
    method: 'GET',
    contentType: null,
    headers: { 'apollo-require-preflight': 'true' },
  },
  {
    name: 'GET with a repeated query parameter',
    method: 'GET',
    search: `?query=${encodeURIComponent(TYPENAME)}&query=${encodeURIComponent(TYPENAME)}`,
    contentType: null,
    headers: { 'apollo-require-preflight': 'true' },
  },
  // OPTIONS is answered 204 with `Allow` (see cors.test.ts).
  ...['PUT', 'DELETE', 'PATCH'].map((method) => ({
    name: `method ${method}`,
    method,
    body: json({ query: TYPENAME }),
  })),
  // Batches.
  { name: 'a batch of two', body: json([{ query: TYPENAME }, { query: TYPENAME }]) },
  {
    name: 'a batch of 1,000',
    body: json(Array.from({ length: 1000 }, () => ({ query: TYPENAME }))),
  },
  { name: 'an empty batch', body: '[]' },
  // NUL bytes.
  { name: 'a raw NUL in the query', body: json({ query: `{ __typename ${NUL} }` }) },
  {
    name: 'a raw NUL inside a string literal',
    body: json({ query: `{ profile(by: { externalId: "a${NUL}b" }) { id } }` }),
  },
  {
    name: 'an escaped NUL inside a string literal of a query',
    body: json({ query: '{ profile(by: { externalId: "a\\u0000b" }) { id } }' }),
  },
  ...[
    ['profiles(email:)', '{ profiles(email: "a\\u0000@b") { totalCount } }'],
    ['aliases(aliasName:)', '{ aliases(aliasName: "a\\u0000") { totalCount } }'],
    ['aliases(aliasLabel:)', '{ aliases(aliasLabel: "a\\u0000") { totalCount } }'],
    ['aliases(after:)', `{ aliases(after: "${cursorOf([NUL, 'x'])}") { totalCount } }`],
  ].map(([field, query]) => ({ name: `an escaped NUL in ${field}`, body: json({ query }) })),
  {
    name: 'an escaped NUL inside a mutation literal',
    body: json({
      query: `mutation { trackUsers(input: { events: [{ externalId: "u\\u0000", name: "e", time: "${new Date().toISOString()}" }] }) { message } }`,
    }),
  },
  {
    name: 'an escaped NUL inside a JSONObject literal',
    body: json({
      query: `mutation { trackUsers(input: { attributes: [{ externalId: "fz-nul", customAttributes: { k: "v\\u0000" } }] }) { message } }`,
    }),
  },
  {
    name: 'a NUL in the operation name',
    body: json({ query: TYPENAME, operationName: `A${NUL}` }),
  },
  // Authorization.
  { name: 'a bad key', body: json({ query: TYPENAME }), auth: 'bad', status: 401 },
  {
    name: 'no key',
    body: json({ query: '{ profiles { totalCount } }' }),
    auth: 'none',
    status: 401,
  },
  {
    name: 'a 10,000-character bearer token',
    body: json({ query: TYPENAME }),
    auth: 'none',
    headers: { authorization: `Bearer ${'k'.repeat(10_000)}` },
    status: 401,
  },
];

const GRAPHQL_TOKENS = [
  '{',
  '}',
  '(',
  ')',
  '[',
  ']',
  ':',
  '!',
  '=',
  '...',
  '@skip',
  '$v',
  'query',
  'mutation',
  'subscription',
  'fragment',
  'on',
  'workspace',
  'profiles',
  'id',
  'first',
  'trackUsers',
  'input',
  '__typename',
  '__schema',
  '"x"',
  '"""',
  '#',
  '\n',
  '1',
  '-1',
  '1.5e999',
  NUL,
  '\\u0000',
  '😀',
];

/** A body of about `size` bytes: 413 past the limit. */
const sizedBody = (size: number): RawCase => {
  const body = json({ query: `#${'x'.repeat(Math.max(0, size - 40))}\n${TYPENAME}` });
  const bytes = Buffer.byteLength(body);
  return { name: `a body of ${bytes} bytes`, body, ...(bytes > MIB ? { status: 413 } : {}) };
};

/** Random requests (the listed cases above are not drawn here: they are checked one by one). */
const rawCase: fc.Arbitrary<RawCase> = fc.oneof(
  fc.integer({ min: 1, max: 60_000 }).map((n) => ({
    name: `${n} levels of { a`,
    body: json({ query: deepSelection(n, n % 2 === 0) }),
  })),
  fc.integer({ min: MIB - 200, max: MIB + 200 }).map(sizedBody),
  fc.jsonValue().map((v) => ({ name: 'random JSON', body: json(v) })),
  fc
    .record(
      {
        query: fc.oneof(
          hostileString,
          fc.constantFrom(TYPENAME, '{ workspace { id name } }', deepSelection(50)),
          fc.array(fc.constantFrom(...GRAPHQL_TOKENS), { maxLength: 60 }).map((t) => t.join(' ')),
          fc.jsonValue(),
        ),
        variables: fc.oneof(fc.jsonValue(), fc.dictionary(fc.string(), jsonLeaf())),
        operationName: fc.oneof(hostileString, fc.jsonValue()),
        extensions: fc.jsonValue(),
      },
      { requiredKeys: [] },
    )
    .map((b) => ({ name: 'random request body', body: json(b) })),
  fc
    .tuple(
      fc.oneof(hostileString, fc.string({ maxLength: 200 })),
      fc.constantFrom<string | null>(
        'application/json',
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data',
        'application/graphql',
        'application/graphql-response+json',
        null,
      ),
    )
    .map(([body, contentType]) => ({ name: 'a random string body', body, contentType })),
  fc
    .uint8Array({ maxLength: 300 })
    .map((body) => ({ name: 'random bytes', body, contentType: 'application/json' })),
  fc.array(fc.constantFrom(...GRAPHQL_TOKENS), { maxLength: 80 }).map((t) => ({
    name: 'GET with random tokens',
    method: 'GET',
    search: `?query=${encodeURIComponent(t.join(' '))}`,
    contentType: null,
    headers: { 'apollo-require-preflight': 'true' },
  })),
);

describe('raw HTTP bodies on /graphql', () => {
  beforeAll(async () => {
    const { workspaceId } = await gw.newWorkspace();
    rawKey = await gw.newKey(workspaceId, ['root', 'admin']);
  });

  it(
    'every listed malformed request gets a JSON error and never a 500; the server keeps serving',
    async () => {
      const failures: string[] = [];
      for (const c of RAW_CASES) {
        try {
          await expectRawHandled(c);
        } catch (error) {
          failures.push((error as Error).message.split('\n')[0]);
        }
      }
      expect(failures, failures.join('\n')).toEqual([]);
    },
    LONG_TEST,
  );

  it(
    'random bodies, content types and methods: never a 500; the server keeps serving',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          rawCase,
          fc.constantFrom<RawCase['auth']>('key', 'none', 'bad'),
          (c, auth) => expectRawHandled({ ...c, auth: c.auth ?? auth }),
        ),
        { numRuns: 60 },
      );
    },
    LONG_TEST,
  );
});
