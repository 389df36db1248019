import { describe, expect, it } from 'vitest';

import { prioritizationProblem } from '../../src/identity/engine/email-priority.js';
import { mergeProfiles } from '../../src/identity/engine/merge-fields.js';
import type {
  EmailPrioritization,
  IdentifyItem,
  MergeBehavior,
  Outcome,
  Plan,
  ProfileState,
  Reason,
} from '../../src/identity/engine/model.js';
import { planIdentify } from '../../src/identity/engine/plan-identify.js';
import {
  ANON_IDS,
  ANON_LABEL,
  NOW,
  aProfile,
  aSnapshot,
  anAlias,
  anAnonAlias,
  anEngineContext,
  anEventState,
  day,
  items,
} from '../helpers/engine-builders.js';

const [A1, A2, A3] = ANON_IDS;
const UUID_V1 = 'c232ab00-9414-11ec-b3c8-9f6bdeced846';
const UUID_V7 = '01a20829-e3f4-73c7-9535-c961127a11da';

interface PlanOptions {
  readonly mergeBehavior?: MergeBehavior;
  readonly maxIdsPerProfile?: number;
  readonly anonIdLabel?: string;
}

function plan(
  list: readonly IdentifyItem[],
  profiles: readonly ProfileState[],
  options: PlanOptions = {},
): Plan {
  const { mergeBehavior = 'MERGE', ...snapshot } = options;
  return planIdentify(
    { items: list, mergeBehavior },
    aSnapshot(profiles, snapshot),
    anEngineContext(),
  );
}

function changedProfile(p: Plan, id: string): ProfileState {
  const found = p.changed.find((c) => c.id === id);
  if (!found) throw new Error(`profile ${id} is not in plan.changed`);
  return found;
}

/** Asserts the plan refused or skipped everything: one outcome per item and nothing written. */
function expectNothingChanged(p: Plan): void {
  expect(p.changed).toEqual([]);
  expect(p.merges).toEqual([]);
  expect(p.changes).toEqual([]);
}

const sorted = (values: readonly string[]): string[] => [...values].sort();

describe('identify by alias', () => {
  it('is NOT_FOUND when no profile holds the alias', () => {
    const bystander = aProfile({ id: 'bystander', aliases: [anAlias('crm-2')] });
    const p = plan([items.alias('user-1', 'crm-1')], [bystander]);
    expect(p.results).toEqual([
      {
        index: 0,
        externalId: 'user-1',
        outcome: 'NOT_FOUND',
        reason: null,
        profileId: null,
        mergeId: null,
      },
    ]);
    expectNothingChanged(p);
  });

  it('is IDENTIFIED when nobody holds the external id, which is written onto the profile', () => {
    const anon = aProfile({
      id: 'anon',
      aliases: [anAlias('crm-1'), anAnonAlias(A1), anAnonAlias(A2), anAlias('w-1', 'web')],
    });
    const p = plan([items.alias('user-1', 'crm-1')], [anon]);

    expect(p.results).toEqual([
      {
        index: 0,
        externalId: 'user-1',
        outcome: 'IDENTIFIED',
        reason: null,
        profileId: 'anon',
        mergeId: null,
      },
    ]);
    expect(p.changed).toEqual([{ ...anon, externalId: 'user-1', updatedAt: NOW }]);
    expect(p.merges).toEqual([]);
    expect(p.changes).toHaveLength(1);
    const [change] = p.changes;
    expect(change).toMatchObject({
      kind: 'identified',
      index: 0,
      mergeId: null,
      externalId: 'user-1',
      profileId: 'anon',
      absorbedProfileId: null,
      behavior: 'MERGE',
      identifier: { kind: 'alias', aliasLabel: 'braze_alias', aliasName: 'crm-1' },
      anonIds: [A1, A2],
    });
    expect(change.aliases).toEqual(
      expect.arrayContaining([anAlias('crm-1'), anAlias('w-1', 'web')]),
    );
    expect(change.aliases).toHaveLength(2);
    expect(sorted(change.survivorAliasLabels)).toEqual([ANON_LABEL, 'braze_alias', 'web']);
  });

  it('is MERGED into the profile that holds the external id, with a journal record', () => {
    const known = aProfile({
      id: 'known',
      externalId: 'user-1',
      aliases: [anAlias('q-1', 'crm')],
      attributes: { firstName: 'Ann' },
    });
    const anon = aProfile({
      id: 'anon',
      aliases: [anAlias('crm-1'), anAnonAlias(A1)],
      attributes: { lastName: 'Lee' },
    });
    const p = plan([items.alias('user-1', 'crm-1')], [known, anon]);

    expect(p.results).toEqual([
      {
        index: 0,
        externalId: 'user-1',
        outcome: 'MERGED',
        reason: null,
        profileId: 'known',
        mergeId: 'merge-1',
      },
    ]);
    const survivor = changedProfile(p, 'known');
    expect(survivor.externalId).toBe('user-1');
    expect(survivor.aliases).toEqual([anAlias('q-1', 'crm'), anAlias('crm-1'), anAnonAlias(A1)]);
    expect(survivor.attributes).toMatchObject({ firstName: 'Ann', lastName: 'Lee' });
    expect(survivor.updatedAt).toEqual(NOW);
    expect(changedProfile(p, 'anon')).toMatchObject({
      mergedInto: 'known',
      aliases: [],
      updatedAt: NOW,
    });
    expect(p.changed).toHaveLength(2);

    expect(p.merges).toEqual([
      {
        id: 'merge-1',
        behavior: 'MERGE',
        survivorId: 'known',
        absorbedId: 'anon',
        externalId: 'user-1',
        identifier: { kind: 'alias', aliasLabel: 'braze_alias', aliasName: 'crm-1' },
        changedFields: expect.arrayContaining(['aliases', 'lastName']),
        // Of the survivor, only what the merge changed (lastName, empty before); all of the absorbed.
        survivorBefore: {
          ...known,
          aliases: [],
          attributes: { ...known.attributes, firstName: null },
        },
        absorbedBefore: anon,
      },
    ]);
    expect(p.changes).toEqual([
      {
        kind: 'merged',
        index: 0,
        mergeId: 'merge-1',
        externalId: 'user-1',
        profileId: 'known',
        absorbedProfileId: 'anon',
        behavior: 'MERGE',
        identifier: { kind: 'alias', aliasLabel: 'braze_alias', aliasName: 'crm-1' },
        anonIds: [A1],
        aliases: [anAlias('crm-1')],
        survivorAliasLabels: ['crm'],
      },
    ]);
  });

  it('is UNCHANGED when the alias already belongs to the profile with that external id', () => {
    const known = aProfile({ id: 'known', externalId: 'user-1', aliases: [anAlias('crm-1')] });
    const p = plan([items.alias('user-1', 'crm-1')], [known]);
    expect(p.results).toEqual([
      {
        index: 0,
        externalId: 'user-1',
        outcome: 'UNCHANGED',
        reason: null,
        profileId: 'known',
        mergeId: null,
      },
    ]);
    expectNothingChanged(p);
  });

  it('is REJECTED when the alias belongs to a profile identified by another external id', () => {
    const other = aProfile({ id: 'other', externalId: 'user-2', aliases: [anAlias('crm-1')] });
    const p = plan([items.alias('user-1', 'crm-1')], [other]);
    expect(p.results).toEqual([
      {
        index: 0,
        externalId: 'user-1',
        outcome: 'REJECTED',
        reason: 'identified_by_other_external_id',
        profileId: 'other',
        mergeId: null,
      },
    ]);
    expectNothingChanged(p);
  });

  it.each<[string, IdentifyItem]>([
    ['an alias', items.alias('user-1', 'crm-1')],
    ['an anon id', items.anonId('user-1', A1)],
    ['an email', items.email('user-1', 'ann@example.com', ['IDENTIFIED'])],
  ])('never merges two identified profiles when named by %s', (_kind, item) => {
    const known = aProfile({ id: 'known', externalId: 'user-1' });
    const other = aProfile({
      id: 'other',
      externalId: 'user-2',
      aliases: [anAlias('crm-1'), anAnonAlias(A1)],
      attributes: { email: 'ann@example.com' },
    });
    const p = plan([item], [known, other]);
    expect(p.results[0]).toMatchObject({
      outcome: 'REJECTED',
      reason: 'identified_by_other_external_id',
      profileId: 'other',
    });
    expectNothingChanged(p);
  });
});

describe('identify by anon id', () => {
  it.each([
    ['lower case', A1],
    ['upper case', A1.toUpperCase()],
    ['lower case behind the $device: prefix', `$device:${A1}`],
    ['upper case behind the $device: prefix', `$device:${A1.toUpperCase()}`],
  ])('accepts a UUID v4 in %s and reports it exactly as stored', (_form, anonId) => {
    const anon = aProfile({ id: 'anon', aliases: [anAnonAlias(anonId)] });
    const p = plan([items.anonId('user-1', anonId)], [anon]);
    expect(p.results[0]).toMatchObject({ outcome: 'IDENTIFIED', reason: null, profileId: 'anon' });
    expect(p.changes[0]).toMatchObject({
      kind: 'identified',
      identifier: { kind: 'anonId', anonId },
      anonIds: [anonId],
    });
  });

  it.each([
    ['a UUID v1', UUID_V1],
    ['a UUID v7', UUID_V7],
    ['a UUID v1 behind the $device: prefix', `$device:${UUID_V1}`],
    ['a short id', 'anonId1234'],
    ['garbage', 'not a uuid at all'],
  ])('rejects %s as anon_id_not_uuid_v4 even when a profile holds it', (_name, anonId) => {
    const anon = aProfile({ id: 'anon', aliases: [anAnonAlias(anonId)] });
    const p = plan([items.anonId('user-1', anonId)], [anon]);
    expect(p.results).toEqual([
      {
        index: 0,
        externalId: 'user-1',
        outcome: 'REJECTED',
        reason: 'anon_id_not_uuid_v4',
        profileId: null,
        mergeId: null,
      },
    ]);
    expectNothingChanged(p);
  });

  it('rejects an anon id equal to the external id as anon_id_equals_external_id', () => {
    const anon = aProfile({ id: 'anon', aliases: [anAnonAlias(A1)] });
    const p = plan([items.anonId(A1, A1)], [anon]);
    expect(p.results[0]).toMatchObject({
      outcome: 'REJECTED',
      reason: 'anon_id_equals_external_id',
    });
    expectNothingChanged(p);
  });

  it('treats an alias under the anon-id label as an anon id, which may be identified', () => {
    const anon = aProfile({ id: 'anon', aliases: [anAnonAlias(A1)] });
    const p = plan([items.alias('user-1', A1, ANON_LABEL)], [anon]);
    expect(p.results[0]).toMatchObject({ outcome: 'IDENTIFIED', profileId: 'anon' });
    expect(p.changes[0].anonIds).toEqual([A1]);
  });

  it.each<[string, IdentifyItem, Reason]>([
    ['not a UUID v4', items.alias('user-1', UUID_V1, ANON_LABEL), 'anon_id_not_uuid_v4'],
    ['equal to the external id', items.alias(A1, A1, ANON_LABEL), 'anon_id_equals_external_id'],
    [
      'a placeholder',
      items.alias('user-1', '00000000-0000-0000-0000-000000000000', ANON_LABEL),
      'invalid_identifier',
    ],
  ])('rejects an alias under the anon-id label that is %s', (_name, item, reason) => {
    const name = item.kind === 'alias' ? item.alias.aliasName : '';
    const anon = aProfile({ id: 'anon', aliases: [anAnonAlias(name)] });
    const p = plan([item], [anon]);
    expect(p.results[0]).toMatchObject({ outcome: 'REJECTED', reason });
    expectNothingChanged(p);
  });

  it("follows the workspace's anon-id label: other labels are ordinary aliases", () => {
    const legacy = aProfile({ id: 'legacy', aliases: [anAlias('not-a-uuid', ANON_LABEL)] });
    const device = aProfile({ id: 'device', aliases: [anAlias('not-a-uuid', 'device_id')] });
    const p = plan(
      [
        items.alias('user-1', 'not-a-uuid', ANON_LABEL),
        items.alias('user-2', 'not-a-uuid', 'device_id'),
      ],
      [legacy, device],
      { anonIdLabel: 'device_id' },
    );
    expect(p.results.map((r) => [r.outcome, r.reason])).toEqual([
      ['IDENTIFIED', null],
      ['REJECTED', 'anon_id_not_uuid_v4'],
    ]);
  });
});

describe('placeholder identifiers', () => {
  it.each([
    'null',
    'undefined',
    '0',
    '-1',
    '',
    '   ',
    'NULL',
    '"null"',
    "'undefined'",
    "'0'",
    '"-1"',
  ])('rejects the external id %j as invalid_external_id for every kind of item', (externalId) => {
    const anon = aProfile({
      id: 'anon',
      aliases: [anAlias('crm-1'), anAnonAlias(A1)],
      attributes: { email: 'ann@example.com' },
    });
    const p = plan(
      [
        items.alias(externalId, 'crm-1'),
        items.email(externalId, 'ann@example.com'),
        items.anonId(externalId, A1),
      ],
      [anon],
    );
    expect(p.results.map((r) => [r.outcome, r.reason])).toEqual([
      ['REJECTED', 'invalid_external_id'],
      ['REJECTED', 'invalid_external_id'],
      ['REJECTED', 'invalid_external_id'],
    ]);
    expectNothingChanged(p);
  });

  it.each<[string, IdentifyItem, ProfileState]>([
    [
      'the alias name "null"',
      items.alias('user-1', 'null'),
      aProfile({ aliases: [anAlias('null')] }),
    ],
    [
      'the quoted alias name "\'anonymous\'"',
      items.alias('user-1', "'anonymous'"),
      aProfile({ aliases: [anAlias("'anonymous'")] }),
    ],
    [
      'the email "undefined"',
      items.email('user-1', 'undefined'),
      aProfile({ attributes: { email: 'undefined' } }),
    ],
    [
      'the anon id "null"',
      items.anonId('user-1', 'null'),
      aProfile({ aliases: [anAnonAlias('null')] }),
    ],
    [
      'the all-zero UUID as anon id',
      items.anonId('user-1', '00000000-0000-0000-0000-000000000000'),
      aProfile({ aliases: [anAnonAlias('00000000-0000-0000-0000-000000000000')] }),
    ],
  ])('rejects %s as invalid_identifier even when a profile holds it', (_name, item, holder) => {
    const p = plan([item], [holder]);
    expect(p.results).toEqual([
      {
        index: 0,
        externalId: 'user-1',
        outcome: 'REJECTED',
        reason: 'invalid_identifier',
        profileId: null,
        mergeId: null,
      },
    ]);
    expectNothingChanged(p);
  });
});

describe('identify by email', () => {
  const EMAIL = 'ann@example.com';
  const unidentifiedOld = aProfile({
    id: 'u-old',
    attributes: { email: EMAIL },
    aliases: [anAnonAlias(A1)],
    updatedAt: day(1),
  });
  const unidentifiedNew = aProfile({
    id: 'u-new',
    attributes: { email: EMAIL },
    aliases: [anAnonAlias(A2)],
    updatedAt: day(3),
  });
  const identifiedMid = aProfile({
    id: 'i-mid',
    externalId: 'user-1',
    attributes: { email: EMAIL },
    updatedAt: day(2),
  });
  const identifiedOld = aProfile({
    id: 'i-old',
    externalId: 'user-3',
    attributes: { email: EMAIL },
    updatedAt: day(0),
  });

  interface EmailCase {
    readonly name: string;
    readonly prioritization: readonly EmailPrioritization[];
    readonly profiles: readonly ProfileState[];
    readonly externalId: string;
    readonly outcome: Outcome;
    readonly profileId: string;
    /** For MERGED: which candidate was chosen and absorbed. */
    readonly absorbedId?: string;
  }

  const emailCases: readonly EmailCase[] = [
    {
      name: 'IDENTIFIED picks the identified candidate',
      prioritization: ['IDENTIFIED'],
      profiles: [unidentifiedOld, identifiedMid, unidentifiedNew],
      externalId: 'user-1',
      outcome: 'UNCHANGED',
      profileId: 'i-mid',
    },
    {
      name: 'UNIDENTIFIED picks the unidentified candidate, which merges',
      prioritization: ['UNIDENTIFIED'],
      profiles: [unidentifiedOld, identifiedMid],
      externalId: 'user-1',
      outcome: 'MERGED',
      profileId: 'i-mid',
      absorbedId: 'u-old',
    },
    {
      name: 'MOST_RECENTLY_UPDATED picks the latest update',
      prioritization: ['MOST_RECENTLY_UPDATED'],
      profiles: [unidentifiedOld, unidentifiedNew],
      externalId: 'user-2',
      outcome: 'IDENTIFIED',
      profileId: 'u-new',
    },
    {
      name: 'LEAST_RECENTLY_UPDATED picks the earliest update',
      prioritization: ['LEAST_RECENTLY_UPDATED'],
      profiles: [unidentifiedNew, unidentifiedOld],
      externalId: 'user-2',
      outcome: 'IDENTIFIED',
      profileId: 'u-old',
    },
    {
      name: 'a step that matches nothing is passed over',
      prioritization: ['IDENTIFIED', 'LEAST_RECENTLY_UPDATED'],
      profiles: [unidentifiedNew, unidentifiedOld],
      externalId: 'user-2',
      outcome: 'IDENTIFIED',
      profileId: 'u-old',
    },
    {
      name: 'a tie among unidentified candidates is broken by the next step',
      prioritization: ['UNIDENTIFIED', 'MOST_RECENTLY_UPDATED'],
      profiles: [unidentifiedOld, identifiedMid, unidentifiedNew],
      externalId: 'user-1',
      outcome: 'MERGED',
      profileId: 'i-mid',
      absorbedId: 'u-new',
    },
    {
      name: 'a tie among identified candidates is broken by the next step',
      prioritization: ['IDENTIFIED', 'LEAST_RECENTLY_UPDATED'],
      profiles: [identifiedMid, unidentifiedOld, identifiedOld],
      externalId: 'user-1',
      outcome: 'REJECTED',
      profileId: 'i-old',
    },
    {
      name: 'a single candidate is chosen whatever the list says',
      prioritization: ['UNIDENTIFIED', 'LEAST_RECENTLY_UPDATED'],
      profiles: [identifiedMid],
      externalId: 'user-1',
      outcome: 'UNCHANGED',
      profileId: 'i-mid',
    },
  ];

  it.each(emailCases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const { prioritization, profiles, externalId, outcome, profileId, absorbedId } = c;
    const p = plan([items.email(externalId, EMAIL, prioritization)], profiles);
    expect(p.results[0]).toMatchObject({ outcome, profileId });
    if (absorbedId !== undefined) {
      expect(p.merges.map((m) => m.absorbedId)).toEqual([absorbedId]);
    } else {
      expect(p.merges).toEqual([]);
    }
  });

  it.each<[string, readonly EmailPrioritization[], readonly ProfileState[]]>([
    ['two unidentified candidates remain', ['UNIDENTIFIED'], [unidentifiedOld, unidentifiedNew]],
    [
      'two candidates were updated at the same time',
      ['UNIDENTIFIED', 'MOST_RECENTLY_UPDATED'],
      [unidentifiedOld, { ...unidentifiedNew, updatedAt: unidentifiedOld.updatedAt }],
    ],
    [
      'two identified candidates remain',
      ['IDENTIFIED'],
      [identifiedMid, identifiedOld, unidentifiedNew],
    ],
  ])('is AMBIGUOUS and merges nothing when %s', (_name, prioritization, profiles) => {
    const p = plan([items.email('user-1', EMAIL, prioritization)], profiles);
    expect(p.results).toEqual([
      {
        index: 0,
        externalId: 'user-1',
        outcome: 'AMBIGUOUS',
        reason: null,
        profileId: null,
        mergeId: null,
      },
    ]);
    expectNothingChanged(p);
  });

  it('compares emails case-insensitively and records the normal form', () => {
    const anon = aProfile({ id: 'anon', attributes: { email: 'Ann@Example.COM' } });
    const p = plan([items.email('user-1', ' aNN@example.com ', ['UNIDENTIFIED'])], [anon]);
    expect(p.results[0]).toMatchObject({ outcome: 'IDENTIFIED', profileId: 'anon' });
    expect(p.changes[0].identifier).toEqual({
      kind: 'email',
      email: 'ann@example.com',
      prioritization: ['UNIDENTIFIED'],
    });
  });

  it('never matches a tombstone, even a more recently updated one', () => {
    const live = aProfile({ id: 'live', attributes: { email: EMAIL }, updatedAt: day(1) });
    const tombstone = aProfile({
      id: 'tombstone',
      attributes: { email: EMAIL },
      mergedInto: 'live',
      updatedAt: day(9),
    });
    const p = plan([items.email('user-1', EMAIL, ['MOST_RECENTLY_UPDATED'])], [tombstone, live]);
    expect(p.results[0]).toMatchObject({ outcome: 'IDENTIFIED', profileId: 'live' });
    expect(p.changed.map((c) => c.id)).toEqual(['live']);
  });

  it('is NOT_FOUND when only a tombstone or nobody has the email', () => {
    const tombstone = aProfile({ attributes: { email: EMAIL }, mergedInto: 'elsewhere' });
    const p = plan(
      [items.email('user-1', EMAIL), items.email('user-1', 'bob@example.com')],
      [tombstone],
    );
    expect(p.results.map((r) => r.outcome)).toEqual(['NOT_FOUND', 'NOT_FOUND']);
    expectNothingChanged(p);
  });
});

describe('email prioritization lists', () => {
  it.each<[string, readonly EmailPrioritization[]]>([
    ['the empty list', []],
    ['IDENTIFIED with UNIDENTIFIED', ['IDENTIFIED', 'UNIDENTIFIED']],
    ['UNIDENTIFIED with IDENTIFIED', ['UNIDENTIFIED', 'MOST_RECENTLY_UPDATED', 'IDENTIFIED']],
    [
      'MOST_RECENTLY_UPDATED with LEAST_RECENTLY_UPDATED',
      ['MOST_RECENTLY_UPDATED', 'LEAST_RECENTLY_UPDATED'],
    ],
    ['a repeated value', ['IDENTIFIED', 'IDENTIFIED']],
    ['a repeated recency', ['LEAST_RECENTLY_UPDATED', 'UNIDENTIFIED', 'LEAST_RECENTLY_UPDATED']],
  ])('refuses %s', (_name, list) => {
    expect(prioritizationProblem(list)).toEqual(expect.any(String));
  });

  const accepted: readonly (readonly EmailPrioritization[])[] = [
    ['IDENTIFIED'],
    ['UNIDENTIFIED'],
    ['MOST_RECENTLY_UPDATED'],
    ['LEAST_RECENTLY_UPDATED'],
    ['IDENTIFIED', 'MOST_RECENTLY_UPDATED'],
    ['LEAST_RECENTLY_UPDATED', 'UNIDENTIFIED'],
  ];

  it.each(accepted.map((list) => [list.join(', '), list] as const))('accepts [%s]', (_, list) => {
    expect(prioritizationProblem(list)).toBeNull();
  });
});

describe('the identifier limit', () => {
  // known: external id + 1 alias = 2 identifiers; anon: 2 anon ids = 2 identifiers.
  const known = aProfile({ id: 'known', externalId: 'user-1', aliases: [anAlias('q-1')] });
  const anon = aProfile({ id: 'anon', aliases: [anAnonAlias(A1), anAnonAlias(A2)] });

  it('accepts a merge that reaches the limit exactly', () => {
    const p = plan([items.anonId('user-1', A1)], [known, anon], { maxIdsPerProfile: 4 });
    expect(p.results[0]).toMatchObject({ outcome: 'MERGED', profileId: 'known' });
    expect(changedProfile(p, 'known').aliases).toHaveLength(3);
  });

  it('rejects a merge that would exceed the limit as too_many_identifiers', () => {
    const p = plan([items.anonId('user-1', A1)], [known, anon], { maxIdsPerProfile: 3 });
    expect(p.results).toEqual([
      {
        index: 0,
        externalId: 'user-1',
        outcome: 'REJECTED',
        reason: 'too_many_identifiers',
        profileId: 'known',
        mergeId: null,
      },
    ]);
    expectNothingChanged(p);
  });

  it.each<[number, Outcome, Reason | null]>([
    [4, 'IDENTIFIED', null],
    [3, 'REJECTED', 'too_many_identifiers'],
  ])(
    'counts the external id when identifying: with 3 aliases and a limit of %i the outcome is %s',
    (maxIdsPerProfile, outcome, reason) => {
      const three = aProfile({
        id: 'three',
        aliases: [anAnonAlias(A1), anAnonAlias(A2), anAnonAlias(A3)],
      });
      const p = plan([items.anonId('user-1', A1)], [three], { maxIdsPerProfile });
      expect(p.results[0]).toMatchObject({ outcome, reason, profileId: 'three' });
      expect(p.changed).toHaveLength(outcome === 'IDENTIFIED' ? 1 : 0);
    },
  );
});

describe('mergeProfiles with MERGE', () => {
  const survivor = aProfile({
    id: 'survivor',
    externalId: 'user-1',
    aliases: [anAlias('q-1')],
    attributes: { email: 'ann@example.com', firstName: 'Ann' },
    customAttributes: { plan: 'pro' },
    sessionCount: 2,
    firstSessionAt: day(5),
    lastSessionAt: day(10),
    events: [
      anEventState('open', {
        count: 2,
        firstAt: day(3),
        lastAt: day(4),
        daily: { '2024-01-04': 1, '2024-01-05': 1 },
      }),
    ],
    purchases: { count: 2, totalCents: 1000, firstAt: day(5), lastAt: day(6) },
    pushTokens: [{ appId: 'ios', token: 't-1', platform: 'ios' }],
    apps: [
      {
        appId: 'ios',
        sessionCount: 2,
        firstSessionAt: day(5),
        lastSessionAt: day(10),
        totalSeconds: 100,
      },
    ],
  });
  const absorbed = aProfile({
    id: 'absorbed',
    aliases: [anAnonAlias(A1), anAlias('crm-1')],
    attributes: { email: 'bob@example.com', firstName: 'Bob', lastName: 'Lee', country: 'FR' },
    customAttributes: { plan: 'free', seats: 3 },
    sessionCount: 3,
    firstSessionAt: day(2),
    lastSessionAt: day(12),
    events: [
      anEventState('open', {
        count: 3,
        firstAt: day(1),
        lastAt: day(3),
        daily: { '2024-01-02': 2, '2024-01-04': 1 },
      }),
      anEventState('buy', { count: 1, firstAt: day(2) }),
    ],
    purchases: { count: 1, totalCents: 500, firstAt: day(1), lastAt: day(2) },
    pushTokens: [{ appId: 'android', token: 't-2', platform: 'android' }],
    apps: [
      {
        appId: 'ios',
        sessionCount: 3,
        firstSessionAt: day(2),
        lastSessionAt: day(12),
        totalSeconds: 50,
      },
      {
        appId: 'web',
        sessionCount: 1,
        firstSessionAt: day(7),
        lastSessionAt: day(7),
        totalSeconds: 9,
      },
    ],
  });
  const merged = mergeProfiles(survivor, absorbed, 'MERGE', NOW);

  it('keeps every standard attribute the survivor has and fills the ones it lacks', () => {
    expect(merged.survivor.attributes).toEqual({
      ...survivor.attributes,
      lastName: 'Lee',
      country: 'FR',
    });
    expect(merged.survivor.attributes).toMatchObject({
      email: 'ann@example.com',
      firstName: 'Ann',
    });
  });

  it('fills only the custom attribute keys the survivor lacks', () => {
    expect(merged.survivor.customAttributes).toEqual({ plan: 'pro', seats: 3 });
  });

  it('fills custom attribute keys that share a name with Object.prototype members', () => {
    // Custom attributes arrive as arbitrary JSON objects; the survivor lacks these keys.
    const custom = JSON.parse('{"constructor":"acme","toString":"v2","__proto__":{"admin":true}}');
    const result = mergeProfiles(
      survivor,
      aProfile({ id: 'odd', customAttributes: custom }),
      'MERGE',
      NOW,
    );
    const attrs = result.survivor.customAttributes;
    expect(sorted(Object.keys(attrs))).toEqual(['__proto__', 'constructor', 'plan', 'toString']);
    expect(Object.getOwnPropertyDescriptor(attrs, 'constructor')?.value).toBe('acme');
    expect(Object.getOwnPropertyDescriptor(attrs, 'toString')?.value).toBe('v2');
    expect(Object.getPrototypeOf(attrs)).toBe(Object.prototype);
  });

  it('sums session counts and keeps the earlier first and the later last session', () => {
    expect(merged.survivor).toMatchObject({
      sessionCount: 5,
      firstSessionAt: day(2),
      lastSessionAt: day(12),
    });
  });

  it('combines events per name: counts and daily counts summed, earlier first, later last', () => {
    expect(merged.survivor.events).toEqual([
      anEventState('buy', { count: 1, firstAt: day(2) }),
      {
        name: 'open',
        count: 5,
        firstAt: day(1),
        lastAt: day(4),
        daily: { '2024-01-02': 2, '2024-01-04': 2, '2024-01-05': 1 },
      },
    ]);
  });

  it('sums purchases and keeps the earlier first and the later last purchase', () => {
    expect(merged.survivor.purchases).toEqual({
      count: 3,
      totalCents: 1500,
      firstAt: day(1),
      lastAt: day(6),
    });
  });

  it('moves push tokens and aliases to the survivor', () => {
    expect(merged.survivor.pushTokens).toEqual(
      expect.arrayContaining([...survivor.pushTokens, ...absorbed.pushTokens]),
    );
    expect(merged.survivor.pushTokens).toHaveLength(2);
    expect(merged.survivor.aliases).toEqual([...survivor.aliases, ...absorbed.aliases]);
  });

  it('keeps one copy of a push token both profiles hold', () => {
    const token = { appId: 'ios', token: 't-1', platform: null };
    const result = mergeProfiles(
      aProfile({ id: 's', pushTokens: [token] }),
      aProfile({ id: 'a', pushTokens: [{ ...token, platform: 'ios' }] }),
      'MERGE',
      NOW,
    );
    expect(result.survivor.pushTokens.map((t) => [t.appId, t.token])).toEqual([['ios', 't-1']]);
  });

  it('combines app summaries per app and adds an app only the absorbed profile had', () => {
    expect(merged.survivor.apps).toEqual([
      {
        appId: 'ios',
        sessionCount: 5,
        firstSessionAt: day(2),
        lastSessionAt: day(12),
        totalSeconds: 150,
      },
      {
        appId: 'web',
        sessionCount: 1,
        firstSessionAt: day(7),
        lastSessionAt: day(7),
        totalSeconds: 9,
      },
    ]);
  });

  it.each([
    ['the absorbed profile holds the outer times', day(5), day(10), day(2), day(12)],
    ['the survivor holds the outer times', day(2), day(12), day(5), day(10)],
  ])(
    'takes the earlier first-time and the later last-time when %s',
    (_name, survivorFirst, survivorLast, absorbedFirst, absorbedLast) => {
      const side = (id: string, first: Date, last: Date): ProfileState =>
        aProfile({
          id,
          sessionCount: 1,
          firstSessionAt: first,
          lastSessionAt: last,
          events: [anEventState('open', { firstAt: first, lastAt: last, daily: {} })],
          purchases: { count: 1, totalCents: 1, firstAt: first, lastAt: last },
          apps: [
            {
              appId: 'ios',
              sessionCount: 1,
              firstSessionAt: first,
              lastSessionAt: last,
              totalSeconds: 1,
            },
          ],
        });
      const result = mergeProfiles(
        side('s', survivorFirst, survivorLast),
        side('a', absorbedFirst, absorbedLast),
        'MERGE',
        NOW,
      ).survivor;
      const window = { first: day(2), last: day(12) };
      expect([result.firstSessionAt, result.lastSessionAt]).toEqual([window.first, window.last]);
      expect([result.events[0].firstAt, result.events[0].lastAt]).toEqual([
        window.first,
        window.last,
      ]);
      expect([result.purchases?.firstAt, result.purchases?.lastAt]).toEqual([
        window.first,
        window.last,
      ]);
      expect([result.apps[0].firstSessionAt, result.apps[0].lastSessionAt]).toEqual([
        window.first,
        window.last,
      ]);
    },
  );

  it.each([
    ['the survivor has none', 'survivor-empty'],
    ['the absorbed profile has none', 'absorbed-empty'],
  ])('keeps the sessions and purchases of one side when %s', (_name, which) => {
    const full = aProfile({
      id: 'full',
      sessionCount: 4,
      firstSessionAt: day(1),
      lastSessionAt: day(8),
      purchases: { count: 2, totalCents: 700, firstAt: day(1), lastAt: day(3) },
    });
    const empty = aProfile({ id: 'empty' });
    const result =
      which === 'survivor-empty'
        ? mergeProfiles(empty, full, 'MERGE', NOW).survivor
        : mergeProfiles(full, empty, 'MERGE', NOW).survivor;
    expect(result).toMatchObject({
      sessionCount: 4,
      firstSessionAt: day(1),
      lastSessionAt: day(8),
      purchases: full.purchases,
    });
  });

  it('lists exactly the survivor fields that changed', () => {
    expect(sorted(merged.changedFields)).toEqual(
      sorted([
        'aliases',
        'pushTokens',
        'lastName',
        'country',
        'customAttributes.seats',
        'sessionCount',
        'firstSessionAt',
        'lastSessionAt',
        'events.open',
        'events.buy',
        'purchases',
        'apps.ios',
        'apps.web',
      ]),
    );
  });

  it('lists no field when the absorbed profile brings nothing', () => {
    const result = mergeProfiles(survivor, aProfile({ id: 'bare' }), 'MERGE', NOW);
    expect(result.changedFields).toEqual([]);
  });

  it('turns the absorbed profile into an emptied tombstone pointing at the survivor', () => {
    expect(merged.absorbed).toMatchObject({
      id: 'absorbed',
      mergedInto: 'survivor',
      aliases: [],
      pushTokens: [],
      sessionCount: 0,
      firstSessionAt: null,
      lastSessionAt: null,
      events: [],
      purchases: null,
      apps: [],
      updatedAt: NOW,
    });
    expect(merged.survivor).toMatchObject({ id: 'survivor', mergedInto: null, updatedAt: NOW });
  });
});

describe('mergeProfiles with NONE', () => {
  const survivor = aProfile({
    id: 'survivor',
    externalId: 'user-1',
    aliases: [anAlias('q-1')],
    attributes: { firstName: 'Ann' },
    pushTokens: [{ appId: 'ios', token: 't-1', platform: 'ios' }],
  });
  const absorbed = aProfile({
    id: 'absorbed',
    aliases: [anAnonAlias(A1)],
    attributes: { lastName: 'Lee', email: 'bob@example.com' },
    customAttributes: { seats: 3 },
    sessionCount: 3,
    firstSessionAt: day(2),
    lastSessionAt: day(4),
    events: [anEventState('open', { count: 3 })],
    purchases: { count: 1, totalCents: 500, firstAt: day(1), lastAt: day(1) },
    pushTokens: [{ appId: 'android', token: 't-2', platform: 'android' }],
    apps: [
      {
        appId: 'web',
        sessionCount: 3,
        firstSessionAt: day(2),
        lastSessionAt: day(4),
        totalSeconds: 9,
      },
    ],
  });
  const result = mergeProfiles(survivor, absorbed, 'NONE', NOW);

  it('moves only aliases and push tokens to the survivor', () => {
    expect(result.survivor).toEqual({
      ...survivor,
      aliases: [...survivor.aliases, ...absorbed.aliases],
      pushTokens: [...survivor.pushTokens, ...absorbed.pushTokens],
      updatedAt: NOW,
    });
    expect(sorted(result.changedFields)).toEqual(['aliases', 'pushTokens']);
  });

  it('leaves attributes, events, purchases and sessions on the tombstone', () => {
    expect(result.absorbed).toEqual({
      ...absorbed,
      aliases: [],
      pushTokens: [],
      mergedInto: 'survivor',
      updatedAt: NOW,
    });
  });

  it('is recorded with behavior NONE by planIdentify', () => {
    const p = plan([items.anonId('user-1', A1)], [survivor, absorbed], { mergeBehavior: 'NONE' });
    expect(p.results[0]).toMatchObject({ outcome: 'MERGED', mergeId: 'merge-1' });
    expect(p.merges[0]).toMatchObject({ behavior: 'NONE', changedFields: result.changedFields });
    expect(p.changes[0]).toMatchObject({ kind: 'merged', behavior: 'NONE', anonIds: [A1] });
    expect(changedProfile(p, 'survivor').attributes).toEqual(survivor.attributes);
    expect(changedProfile(p, 'absorbed').events).toEqual(absorbed.events);
  });
});

describe('items of one request', () => {
  it('run in order: an alias IDENTIFIED first, then an anon id MERGED into that profile', () => {
    const byAlias = aProfile({ id: 'by-alias', aliases: [anAlias('crm-1')] });
    const byAnon = aProfile({ id: 'by-anon', aliases: [anAnonAlias(A1)] });
    const p = plan([items.alias('user-1', 'crm-1'), items.anonId('user-1', A1)], [byAlias, byAnon]);
    expect(p.results.map((r) => [r.index, r.outcome, r.profileId, r.mergeId])).toEqual([
      [0, 'IDENTIFIED', 'by-alias', null],
      [1, 'MERGED', 'by-alias', 'merge-1'],
    ]);
    expect(changedProfile(p, 'by-alias')).toMatchObject({
      externalId: 'user-1',
      aliases: [anAlias('crm-1'), anAnonAlias(A1)],
    });
    expect(changedProfile(p, 'by-anon').mergedInto).toBe('by-alias');
    // The journal keeps the survivor as it was just before the merge: already identified.
    expect(p.merges[0].survivorBefore).toMatchObject({ externalId: 'user-1' });
    expect(p.changes.map((c) => [c.kind, c.index])).toEqual([
      ['identified', 0],
      ['merged', 1],
    ]);
  });

  it('give IDENTIFIED then UNCHANGED when the same item comes twice', () => {
    const anon = aProfile({ id: 'anon', aliases: [anAnonAlias(A1)] });
    const p = plan([items.anonId('user-1', A1), items.anonId('user-1', A1)], [anon]);
    expect(p.results.map((r) => r.outcome)).toEqual(['IDENTIFIED', 'UNCHANGED']);
    expect(p.changes).toHaveLength(1);
  });

  it('give MERGED then UNCHANGED when the same merging item comes twice', () => {
    // DESIGN.md: after a merge every lookup through the absorbed profile's identifiers
    // resolves to the survivor, later items of the same request included.
    const known = aProfile({ id: 'known', externalId: 'user-1' });
    const anon = aProfile({ id: 'anon', aliases: [anAnonAlias(A1)] });
    const p = plan([items.anonId('user-1', A1), items.anonId('user-1', A1)], [known, anon]);
    expect(p.results.map((r) => [r.outcome, r.profileId])).toEqual([
      ['MERGED', 'known'],
      ['UNCHANGED', 'known'],
    ]);
  });

  it('resolve an identifier moved by an earlier merge to the survivor', () => {
    // A2 moved to `known` (identified by user-1) with the first item: naming it for user-2
    // must be refused like any identifier of an identified profile.
    const known = aProfile({ id: 'known', externalId: 'user-1' });
    const anon = aProfile({ id: 'anon', aliases: [anAnonAlias(A1), anAnonAlias(A2)] });
    const p = plan([items.anonId('user-1', A1), items.anonId('user-2', A2)], [known, anon]);
    expect(p.results.map((r) => [r.outcome, r.reason, r.profileId])).toEqual([
      ['MERGED', null, 'known'],
      ['REJECTED', 'identified_by_other_external_id', 'known'],
    ]);
  });

  it('report results with indexes and external ids in payload order', () => {
    const anon = aProfile({ id: 'anon', aliases: [anAnonAlias(A1)] });
    const twins = [
      aProfile({ id: 'twin-1', attributes: { email: 'twin@example.com' } }),
      aProfile({ id: 'twin-2', attributes: { email: 'twin@example.com' } }),
    ];
    const p = plan(
      [
        items.alias('user-1', 'crm-9'),
        items.email('user-2', 'twin@example.com', ['UNIDENTIFIED']),
        items.anonId('user-3', A1),
        items.alias('null', 'crm-1'),
      ],
      [anon, ...twins],
    );
    expect(p.results.map((r) => [r.index, r.externalId, r.outcome])).toEqual([
      [0, 'user-1', 'NOT_FOUND'],
      [1, 'user-2', 'AMBIGUOUS'],
      [2, 'user-3', 'IDENTIFIED'],
      [3, 'null', 'REJECTED'],
    ]);
    expect(p.changes.map((c) => c.index)).toEqual([2]);
  });

  it('leave profiles they do not change out of plan.changed', () => {
    const bystander = aProfile({ id: 'bystander', aliases: [anAlias('crm-2')] });
    const known = aProfile({ id: 'known', externalId: 'user-1', aliases: [anAlias('crm-1')] });
    const anon = aProfile({ id: 'anon', aliases: [anAnonAlias(A1)] });
    const p = plan(
      [items.alias('user-1', 'crm-1'), items.anonId('user-1', A1)],
      [bystander, known, anon],
    );
    expect(sorted(p.changed.map((c) => c.id))).toEqual(['anon', 'known']);
  });
});

describe('determinism', () => {
  const profiles = [
    aProfile({ id: 'known', externalId: 'user-1', aliases: [anAlias('q-1')] }),
    aProfile({ id: 'anon-1', aliases: [anAnonAlias(A1)], attributes: { email: 'a@example.com' } }),
    aProfile({ id: 'anon-2', aliases: [anAlias('crm-1')], events: [anEventState('open')] }),
  ];
  const request = [
    items.anonId('user-1', A1),
    items.alias('user-2', 'crm-1'),
    items.email('user-1', 'a@example.com', ['IDENTIFIED']),
  ];

  it('gives deep-equal plans for the same input', () => {
    expect(plan(request, profiles)).toEqual(plan(request, profiles));
  });

  it('leaves the snapshot it is given untouched', () => {
    const before = structuredClone(profiles);
    plan(request, profiles);
    expect(profiles).toEqual(before);
  });
});

/**
 * PostHog's person-merge decisions, restated from shared/fixtures/posthog-merge-semantics.json
 * (merge_matrix and illegal_distinct_ids; PostHog/posthog person-merge-service.ts), checked only
 * where our rules agree. Where they differ we follow DESIGN.md:
 * - "source exists, target distinct_id has no person": PostHog adds the id to the person even when
 *   it is identified under another id; we REJECT (identified_by_other_external_id).
 * - "neither exists": PostHog creates a person; identifyUsers creates nothing (NOT_FOUND).
 * - "distinct_id == anon/alias id": a no-op for PostHog; we REJECT (anon_id_equals_external_id).
 * - "$merge_dangerously" merges two identified persons; we never do.
 */
describe('agreement with PostHog merge semantics', () => {
  const known = aProfile({ id: 'known', externalId: 'user-1', aliases: [anAlias('crm-1')] });
  const anon = aProfile({ id: 'anon', aliases: [anAnonAlias(A1)] });
  const other = aProfile({ id: 'other', externalId: 'user-2', aliases: [anAnonAlias(A2)] });

  it.each<[string, IdentifyItem, readonly ProfileState[], Outcome, Reason | null]>([
    [
      'both exist, same person -> no-op',
      items.alias('user-1', 'crm-1'),
      [known],
      'UNCHANGED',
      null,
    ],
    [
      'both exist, source not identified -> merge into target',
      items.anonId('user-1', A1),
      [known, anon],
      'MERGED',
      null,
    ],
    [
      'both exist, source identified, $identify -> refused',
      items.anonId('user-1', A2),
      [known, other],
      'REJECTED',
      'identified_by_other_external_id',
    ],
    [
      'source exists (unidentified), target has no person -> id added to the source',
      items.anonId('user-1', A1),
      [anon],
      'IDENTIFIED',
      null,
    ],
    [
      'either id illegal -> refused',
      items.anonId('undefined', A1),
      [anon],
      'REJECTED',
      'invalid_external_id',
    ],
  ])('%s', (_case, item, profiles, outcome, reason) => {
    const p = plan([item], profiles);
    expect(p.results[0]).toMatchObject({ outcome, reason });
  });

  it.each(['', '   ', 'null', 'undefined', '"undefined"', '[object Object]', '"[object Object]"'])(
    "refuses PostHog's illegal distinct id %j as an external id",
    (externalId) => {
      const p = plan([items.anonId(externalId, A1)], [anon]);
      expect(p.results[0]).toMatchObject({ outcome: 'REJECTED', reason: 'invalid_external_id' });
    },
  );
});
