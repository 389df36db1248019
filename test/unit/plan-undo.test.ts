import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { journalledSurvivor, mergeProfiles } from '../../src/identity/engine/merge-fields.js';
import type { MergeBehavior, ProfileState } from '../../src/identity/engine/model.js';
import { planUndo } from '../../src/identity/engine/plan-undo.js';
import {
  aProfile,
  anAlias,
  anAnonAlias,
  anEventState,
  day,
  NOW,
} from '../helpers/engine-builders.js';

const LATER = new Date(NOW.getTime() + 60_000);
const withoutUpdatedAt = (p: ProfileState) => ({ ...p, updatedAt: null });

const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null });
const aProfileArb = (prefix: string, identified: boolean) =>
  fc
    .record({
      firstName: maybe(fc.constantFrom('Ada', 'Grace')),
      country: maybe(fc.constantFrom('FR', 'US')),
      custom: fc.dictionary(
        fc.constantFrom('plan', 'tier', 'source'),
        fc.constantFrom('a', 'b', 1),
      ),
      sessions: fc.nat(3),
      events: fc.uniqueArray(fc.constantFrom('visit', 'signup', 'buy'), { maxLength: 3 }),
      purchases: fc.boolean(),
      apps: fc.uniqueArray(fc.constantFrom('ios', 'web'), { maxLength: 2 }),
      tokens: fc.uniqueArray(fc.constantFrom('t1', 't2'), { maxLength: 2 }),
      aliases: fc.uniqueArray(fc.constantFrom('a1', 'a2'), { maxLength: 2 }),
    })
    .map((g) =>
      aProfile({
        id: `${prefix}-profile`,
        externalId: identified ? `${prefix}-user` : null,
        attributes: { firstName: g.firstName, country: g.country },
        customAttributes: g.custom,
        sessionCount: g.sessions,
        firstSessionAt: g.sessions ? day(prefix === 's' ? 2 : 1) : null,
        lastSessionAt: g.sessions ? day(prefix === 's' ? 5 : 9) : null,
        // In name order, as the store loads them.
        events: [...g.events]
          .sort()
          .map((name, i) =>
            anEventState(name, { count: i + 1, firstAt: day(i), lastAt: day(i + 3) }),
          ),
        purchases: g.purchases
          ? { count: 2, totalCents: 500, firstAt: day(1), lastAt: day(4) }
          : null,
        apps: [...g.apps].sort().map((appId) => ({
          appId,
          sessionCount: 1,
          firstSessionAt: day(1),
          lastSessionAt: day(2),
          totalSeconds: 30,
        })),
        pushTokens: g.tokens.map((token) => ({
          appId: 'ios',
          token: `${prefix}-${token}`,
          platform: null,
        })),
        aliases: [
          ...g.aliases.map((n) => anAlias(`${prefix}-${n}`)),
          ...(identified ? [] : [anAnonAlias(`${prefix}-anon`)]),
        ],
      }),
    );

describe('planUndo', () => {
  it('gives both profiles back exactly as they were before the merge', () => {
    fc.assert(
      fc.property(
        aProfileArb('s', true),
        aProfileArb('a', false),
        fc.constantFrom<MergeBehavior>('MERGE', 'NONE'),
        (s, a, behavior) => {
          const merged = mergeProfiles(s, a, behavior, NOW);
          // From what the journal keeps of the survivor, not its whole prior state.
          const kept = journalledSurvivor(s, merged.changedFields);
          const plan = planUndo(
            {
              behavior,
              survivorBefore: kept,
              absorbedBefore: a,
              changedFields: merged.changedFields,
            },
            merged.survivor,
            LATER,
          );
          expect(plan.kind).toBe('undo');
          if (plan.kind !== 'undo') return;
          expect(withoutUpdatedAt(plan.survivor)).toEqual(withoutUpdatedAt(s));
          expect(withoutUpdatedAt(plan.absorbed)).toEqual(withoutUpdatedAt(a));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('decides from the journalled survivor exactly as from its whole prior state, whatever changed since', () => {
    const laterChange = fc.constantFrom(
      (p: ProfileState) => p,
      (p: ProfileState) => ({ ...p, customAttributes: { ...p.customAttributes, plan: 'x' } }),
      (p: ProfileState) => ({ ...p, attributes: { ...p.attributes, firstName: 'Zoe' } }),
      (p: ProfileState) => ({ ...p, events: [...p.events, anEventState('zzz')] }),
      (p: ProfileState) => ({ ...p, events: p.events.slice(1), sessionCount: p.sessionCount + 1 }),
      (p: ProfileState) => ({ ...p, aliases: p.aliases.slice(1), pushTokens: [] }),
    );
    fc.assert(
      fc.property(
        aProfileArb('s', true),
        aProfileArb('a', false),
        fc.constantFrom<MergeBehavior>('MERGE', 'NONE'),
        laterChange,
        (s, a, behavior, change) => {
          const merged = mergeProfiles(s, a, behavior, NOW);
          const current = change(merged.survivor);
          const input = { behavior, absorbedBefore: a, changedFields: merged.changedFields };
          const whole = planUndo({ ...input, survivorBefore: s }, current, LATER);
          const kept = journalledSurvivor(s, merged.changedFields);
          expect(planUndo({ ...input, survivorBefore: kept }, current, LATER)).toEqual(whole);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('keeps of the survivor only the fields the merge changed', () => {
    const s = aProfile({
      externalId: 'u',
      aliases: [anAlias('s-1')],
      attributes: { firstName: 'Ann' },
      customAttributes: { plan: 'pro' },
      events: [anEventState('visit'), anEventState('signup')],
    });
    const a = aProfile({
      aliases: [anAnonAlias('x')],
      attributes: { lastName: 'Lee' },
      customAttributes: { tier: 'gold' },
      events: [anEventState('visit')],
    });
    const merged = mergeProfiles(s, a, 'MERGE', NOW);
    const kept = journalledSurvivor(s, merged.changedFields);
    expect(kept.aliases).toEqual([]);
    expect(kept.attributes).toMatchObject({ firstName: null, lastName: null });
    expect(kept.customAttributes).toEqual({});
    expect(kept.events.map((e) => e.name)).toEqual(['visit']);
    expect(kept.externalId).toBe('u');
  });

  it('refuses when a merged field changed since, naming the field', () => {
    const s = aProfile({ externalId: 'u', events: [anEventState('visit')] });
    const a = aProfile({
      aliases: [anAnonAlias('x')],
      events: [anEventState('visit')],
      customAttributes: { plan: 'pro' },
    });
    const merged = mergeProfiles(s, a, 'MERGE', NOW);
    const touched = { ...merged.survivor, customAttributes: { plan: 'enterprise' } };
    const plan = planUndo(
      {
        behavior: 'MERGE',
        survivorBefore: s,
        absorbedBefore: a,
        changedFields: merged.changedFields,
      },
      touched,
      LATER,
    );
    expect(plan).toEqual({ kind: 'conflict', fields: ['customAttributes.plan'] });
  });

  it('keeps survivor changes outside the merged fields', () => {
    const s = aProfile({ externalId: 'u' });
    const a = aProfile({ aliases: [anAnonAlias('x')], events: [anEventState('visit')] });
    const merged = mergeProfiles(s, a, 'MERGE', NOW);
    const later = {
      ...merged.survivor,
      events: [...merged.survivor.events, anEventState('checkout')],
      attributes: { ...merged.survivor.attributes, city: null, homeCity: 'Lyon' },
    };
    const plan = planUndo(
      {
        behavior: 'MERGE',
        survivorBefore: s,
        absorbedBefore: a,
        changedFields: merged.changedFields,
      },
      later,
      LATER,
    );
    expect(plan.kind).toBe('undo');
    if (plan.kind !== 'undo') return;
    expect(plan.survivor.events.map((e) => e.name)).toEqual(['checkout']);
    expect(plan.survivor.attributes.homeCity).toBe('Lyon');
    expect(plan.survivor.aliases).toEqual([]);
  });
});
