/**
 * Property tests of the merge engine: random sequences of track, alias and identify operations
 * on a small in-memory world, checked against the invariants of DESIGN.md ("Rules of the merge
 * engine") and against a small reference model of the rules.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { prioritizationProblem } from '../../src/identity/engine/email-priority.js';
import type {
  AliasValue,
  EmailPrioritization,
  EventState,
  IdentifyItem,
  MergeBehavior,
  Outcome,
  Plan,
  ProfileState,
  Reason,
} from '../../src/identity/engine/model.js';
import { identifierCount, planIdentify } from '../../src/identity/engine/plan-identify.js';
import { ANON_IDS, ANON_LABEL, T0, aProfile } from '../helpers/engine-builders.js';

const MAX_IDS = 3;
const EXTERNAL_IDS = ['user-1', 'user-2', 'user-3', 'user-4'] as const;
/** Valid UUID v4 anon ids, as received: lower case, upper case and `$device:`-prefixed. */
const ANONS = [
  ANON_IDS[0],
  ANON_IDS[1].toUpperCase(),
  `$device:${ANON_IDS[2]}`,
  ANON_IDS[3],
  ANON_IDS[4],
] as const;
/** A UUID v1: never tracked, only named in identify requests, where it must be REJECTED. */
const INVALID_ANON = 'c232ab00-9414-11ec-b3c8-9f6bdeced846';
const ALIAS_LABEL = 'braze_alias';
const ALIAS_NAMES = ['crm-1', 'crm-2'] as const;
const EMAILS = ['ann@example.com', 'bob@example.com'] as const;
const EVENT_NAMES = ['open', 'buy'] as const;
const PRIORITIES: readonly EmailPrioritization[] = [
  'IDENTIFIED',
  'UNIDENTIFIED',
  'MOST_RECENTLY_UPDATED',
  'LEAST_RECENTLY_UPDATED',
];

type UserRef =
  | { readonly kind: 'externalId'; readonly externalId: string }
  | { readonly kind: 'alias'; readonly aliasLabel: string; readonly aliasName: string };

type Op =
  | { readonly kind: 'track'; readonly user: UserRef; readonly event: string; readonly n: number }
  | { readonly kind: 'setEmail'; readonly user: UserRef; readonly email: string }
  | { readonly kind: 'alias'; readonly user: UserRef; readonly alias: AliasValue }
  | {
      readonly kind: 'identify';
      readonly items: readonly IdentifyItem[];
      readonly mergeBehavior: MergeBehavior;
    };

// ---------------------------------------------------------------------------------------------
// Generators

const externalIdArb = fc.constantFrom(...EXTERNAL_IDS);
const anonAliasArb: fc.Arbitrary<AliasValue> = fc
  .constantFrom(...ANONS)
  .map((aliasName) => ({ aliasLabel: ANON_LABEL, aliasName }));
const plainAliasArb: fc.Arbitrary<AliasValue> = fc
  .constantFrom(...ALIAS_NAMES)
  .map((aliasName) => ({ aliasLabel: ALIAS_LABEL, aliasName }));
const userArb: fc.Arbitrary<UserRef> = fc.oneof(
  externalIdArb.map((externalId) => ({ kind: 'externalId' as const, externalId })),
  anonAliasArb.map((a) => ({ kind: 'alias' as const, ...a })),
  plainAliasArb.map((a) => ({ kind: 'alias' as const, ...a })),
);
const prioritizationArb = fc
  .shuffledSubarray([...PRIORITIES], { minLength: 1, maxLength: 2 })
  .filter((list) => prioritizationProblem(list) === null);

const itemArb: fc.Arbitrary<IdentifyItem> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('anonId' as const),
      externalId: externalIdArb,
      anonId: fc.constantFrom<string>(...ANONS, INVALID_ANON),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('alias' as const),
      externalId: externalIdArb,
      alias: fc.oneof(plainAliasArb, anonAliasArb),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('email' as const),
      externalId: externalIdArb,
      // Upper case on purpose: emails are compared case-insensitively.
      email: fc.constantFrom<string>(...EMAILS, ' Ann@Example.COM'),
      prioritization: prioritizationArb,
    }),
  },
);

function opArb(behaviors: readonly MergeBehavior[]): fc.Arbitrary<Op> {
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('track' as const),
        user: userArb,
        event: fc.constantFrom<string>(...EVENT_NAMES),
        n: fc.integer({ min: 1, max: 3 }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('setEmail' as const),
        user: userArb,
        email: fc.constantFrom<string>(...EMAILS),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('alias' as const),
        user: userArb,
        alias: fc.oneof(plainAliasArb, anonAliasArb),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('identify' as const),
        items: fc.array(itemArb, { minLength: 1, maxLength: 4 }),
        mergeBehavior: fc.constantFrom(...behaviors),
      }),
    },
  );
}

const opsArb = (behaviors: readonly MergeBehavior[] = ['MERGE', 'NONE']) =>
  fc.array(opArb(behaviors), { minLength: 5, maxLength: 40, size: 'max' });

// ---------------------------------------------------------------------------------------------
// Identifier keys (the test's own, independent of the engine's)

const keyOfRef = (ref: UserRef): string =>
  ref.kind === 'externalId' ? `x|${ref.externalId}` : `a|${ref.aliasLabel}|${ref.aliasName}`;
const keyOfAlias = (a: AliasValue): string => `a|${a.aliasLabel}|${a.aliasName}`;
const keyOfExternalId = (externalId: string): string => `x|${externalId}`;

function keysOf(p: ProfileState): string[] {
  const keys = p.aliases.map(keyOfAlias);
  if (p.externalId !== null) keys.push(keyOfExternalId(p.externalId));
  return keys;
}

const eventTotal = (p: ProfileState): number => p.events.reduce((sum, e) => sum + e.count, 0);
const normalEmail = (email: string): string => email.trim().toLowerCase();
const sorted = (values: Iterable<string>): string[] => [...values].sort();

// ---------------------------------------------------------------------------------------------
// The world: what the gateway's store holds, driven like trackUsers, createAliases and
// identifyUsers drive it.

class World {
  readonly profiles = new Map<string, ProfileState>();
  tick = 0;
  tracked = 0;
  private profileIds = 0;
  private mergeIds = 0;

  now(): Date {
    return new Date(T0.getTime() + this.tick * 3_600_000);
  }

  live(): ProfileState[] {
    return [...this.profiles.values()].filter((p) => p.mergedInto === null);
  }

  holder(key: string): ProfileState | undefined {
    return this.live().find((p) => keysOf(p).includes(key));
  }

  /** Like trackUsers: an unknown external id or alias (anon id included) creates its user. */
  private ensure(user: UserRef): ProfileState {
    const found = this.holder(keyOfRef(user));
    if (found) return found;
    const now = this.now();
    const p = aProfile({
      id: `p-${String(++this.profileIds).padStart(3, '0')}`,
      externalId: user.kind === 'externalId' ? user.externalId : null,
      aliases:
        user.kind === 'alias' ? [{ aliasLabel: user.aliasLabel, aliasName: user.aliasName }] : [],
      createdAt: now,
      updatedAt: now,
    });
    this.profiles.set(p.id, p);
    return p;
  }

  track(user: UserRef, name: string, n: number): void {
    const p = this.ensure(user);
    const now = this.now();
    const dayKey = now.toISOString().slice(0, 10);
    const old = p.events.find((e) => e.name === name);
    const event: EventState = old
      ? {
          ...old,
          count: old.count + n,
          lastAt: now,
          daily: { ...old.daily, [dayKey]: (old.daily[dayKey] ?? 0) + n },
        }
      : { name, count: n, firstAt: now, lastAt: now, daily: { [dayKey]: n } };
    const events = [...p.events.filter((e) => e.name !== name), event];
    this.profiles.set(p.id, { ...p, events, updatedAt: now });
    this.tracked += n;
  }

  setEmail(user: UserRef, email: string): void {
    const p = this.ensure(user);
    this.profiles.set(p.id, {
      ...p,
      attributes: { ...p.attributes, email },
      updatedAt: this.now(),
    });
  }

  /**
   * Adds an alias to the profile a user ref names (creating it if needed). An alias some profile
   * already holds, or one that would exceed the identifier limit, is refused and changes nothing.
   */
  alias(user: UserRef, alias: AliasValue): boolean {
    if (this.holder(keyOfAlias(alias))) return false;
    const existing = this.holder(keyOfRef(user));
    if (existing && identifierCount(existing) + 1 > MAX_IDS) return false;
    const p = this.ensure(user);
    // Named by the alias itself: ensure() created an alias-only profile holding it.
    if (keyOfRef(user) === keyOfAlias(alias)) return true;
    this.profiles.set(p.id, { ...p, aliases: [...p.aliases, alias], updatedAt: this.now() });
    return true;
  }

  plan(items: readonly IdentifyItem[], mergeBehavior: MergeBehavior): Plan {
    return planIdentify(
      { items, mergeBehavior },
      { anonIdLabel: ANON_LABEL, maxIdsPerProfile: MAX_IDS, profiles: this.live() },
      { now: this.now(), newId: () => `merge-${++this.mergeIds}` },
    );
  }

  identify(items: readonly IdentifyItem[], mergeBehavior: MergeBehavior): Plan {
    const plan = this.plan(items, mergeBehavior);
    for (const p of plan.changed) this.profiles.set(p.id, p);
    return plan;
  }

  /** How many live profiles have each email named by the items (case-insensitively). */
  emailMatches(items: readonly IdentifyItem[]): number[] {
    return items
      .filter((i) => i.kind === 'email')
      .map(
        (i) =>
          this.live().filter(
            (p) =>
              p.attributes.email !== null &&
              normalEmail(p.attributes.email) === normalEmail(i.email),
          ).length,
      );
  }
}

// ---------------------------------------------------------------------------------------------
// The reference model: clusters of identifiers, each the set one live profile should hold,
// updated by the rules as DESIGN.md states them, without the engine's code.

interface Cluster {
  externalId: string | null;
  readonly ids: Set<string>;
  email: string | null;
  updatedAt: number;
  events: number;
}

interface RefOutcome {
  readonly outcome: Outcome;
  readonly reason: Reason | null;
}

class Reference {
  readonly clusters = new Set<Cluster>();
  deadEvents = 0;

  holder(key: string): Cluster | undefined {
    return [...this.clusters].find((c) => c.ids.has(key));
  }

  private ensure(user: UserRef, tick: number): Cluster {
    const key = keyOfRef(user);
    const found = this.holder(key);
    if (found) return found;
    const c: Cluster = {
      externalId: user.kind === 'externalId' ? user.externalId : null,
      ids: new Set([key]),
      email: null,
      updatedAt: tick,
      events: 0,
    };
    this.clusters.add(c);
    return c;
  }

  track(user: UserRef, n: number, tick: number): void {
    const c = this.ensure(user, tick);
    c.events += n;
    c.updatedAt = tick;
  }

  setEmail(user: UserRef, email: string, tick: number): void {
    const c = this.ensure(user, tick);
    c.email = email;
    c.updatedAt = tick;
  }

  alias(user: UserRef, alias: AliasValue, tick: number): boolean {
    if (this.holder(keyOfAlias(alias))) return false;
    const existing = this.holder(keyOfRef(user));
    if (existing && existing.ids.size + 1 > MAX_IDS) return false;
    const c = this.ensure(user, tick);
    c.ids.add(keyOfAlias(alias));
    c.updatedAt = tick;
    return true;
  }

  identify(items: readonly IdentifyItem[], behavior: MergeBehavior, tick: number): RefOutcome[] {
    return items.map((item) => this.identifyOne(item, behavior, tick));
  }

  private identifyOne(item: IdentifyItem, behavior: MergeBehavior, tick: number): RefOutcome {
    const rejected = (reason: Reason): RefOutcome => ({ outcome: 'REJECTED', reason });
    const plain = (outcome: Outcome): RefOutcome => ({ outcome, reason: null });

    const anonId =
      item.kind === 'anonId'
        ? item.anonId
        : item.kind === 'alias' && item.alias.aliasLabel === ANON_LABEL
          ? item.alias.aliasName
          : null;
    if (anonId === INVALID_ANON) return rejected('anon_id_not_uuid_v4');

    let source: Cluster | undefined;
    if (item.kind === 'email') {
      const email = normalEmail(item.email);
      let left = [...this.clusters].filter(
        (c) => c.email !== null && normalEmail(c.email) === email,
      );
      if (left.length === 0) return plain('NOT_FOUND');
      for (const step of item.prioritization) {
        if (left.length === 1) break;
        const narrowed = narrow(step, left);
        if (narrowed.length > 0) left = narrowed;
      }
      if (left.length > 1) return plain('AMBIGUOUS');
      source = left[0];
    } else {
      const alias =
        item.kind === 'anonId' ? { aliasLabel: ANON_LABEL, aliasName: item.anonId } : item.alias;
      source = this.holder(keyOfAlias(alias));
      if (!source) return plain('NOT_FOUND');
    }

    if (source.externalId === item.externalId) return plain('UNCHANGED');
    if (source.externalId !== null) return rejected('identified_by_other_external_id');
    const target = this.holder(keyOfExternalId(item.externalId));
    if (!target) {
      if (source.ids.size + 1 > MAX_IDS) return rejected('too_many_identifiers');
      source.externalId = item.externalId;
      source.ids.add(keyOfExternalId(item.externalId));
      source.updatedAt = tick;
      return plain('IDENTIFIED');
    }
    if (target.ids.size + source.ids.size > MAX_IDS) return rejected('too_many_identifiers');
    for (const id of source.ids) target.ids.add(id);
    if (behavior === 'MERGE') {
      target.email ??= source.email;
      target.events += source.events;
    } else {
      this.deadEvents += source.events;
    }
    target.updatedAt = tick;
    this.clusters.delete(source);
    return plain('MERGED');
  }
}

function narrow(step: EmailPrioritization, candidates: readonly Cluster[]): Cluster[] {
  switch (step) {
    case 'IDENTIFIED':
      return candidates.filter((c) => c.externalId !== null);
    case 'UNIDENTIFIED':
      return candidates.filter((c) => c.externalId === null);
    case 'MOST_RECENTLY_UPDATED': {
      const latest = Math.max(...candidates.map((c) => c.updatedAt));
      return candidates.filter((c) => c.updatedAt === latest);
    }
    case 'LEAST_RECENTLY_UPDATED': {
      const earliest = Math.min(...candidates.map((c) => c.updatedAt));
      return candidates.filter((c) => c.updatedAt === earliest);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Running a sequence

interface Step {
  readonly op: Op;
  /** For identify: the plan the world applied, and the world as it was before. */
  readonly plan?: Plan;
  readonly emailMatchesBefore?: number[];
}

/** Runs the operations one by one, calling `check` after each with the world and the step. */
function run(ops: readonly Op[], check: (world: World, step: Step) => void): World {
  const world = new World();
  for (const op of ops) {
    world.tick++;
    switch (op.kind) {
      case 'track':
        world.track(op.user, op.event, op.n);
        check(world, { op });
        break;
      case 'setEmail':
        world.setEmail(op.user, op.email);
        check(world, { op });
        break;
      case 'alias':
        world.alias(op.user, op.alias);
        check(world, { op });
        break;
      case 'identify': {
        const emailMatchesBefore = world.emailMatches(op.items);
        const plan = world.identify(op.items, op.mergeBehavior);
        check(world, { op, plan, emailMatchesBefore });
        break;
      }
    }
  }
  return world;
}

function applyToReference(ref: Reference, op: Op, tick: number): RefOutcome[] | null {
  switch (op.kind) {
    case 'track':
      ref.track(op.user, op.n, tick);
      return null;
    case 'setEmail':
      ref.setEmail(op.user, op.email, tick);
      return null;
    case 'alias':
      ref.alias(op.user, op.alias, tick);
      return null;
    case 'identify':
      return ref.identify(op.items, op.mergeBehavior, tick);
  }
}

// ---------------------------------------------------------------------------------------------
// Invariants

function expectNothingLost(world: World): void {
  const all = [...world.profiles.values()];
  expect(
    all.reduce((sum, p) => sum + eventTotal(p), 0),
    'events over all profiles',
  ).toBe(world.tracked);
  for (const p of all) {
    for (const e of p.events) {
      const daily = Object.values(e.daily).reduce((sum, n) => sum + n, 0);
      expect(daily, `daily counts of ${e.name} on ${p.id}`).toBe(e.count);
      expect(e.firstAt.getTime()).toBeLessThanOrEqual(e.lastAt.getTime());
    }
  }
}

function expectIdentifiersHeldOnce(world: World): void {
  const holders = new Map<string, string[]>();
  for (const p of world.profiles.values()) {
    if (p.mergedInto !== null) {
      expect(keysOf(p), `tombstone ${p.id} holds identifiers`).toEqual([]);
      expect(p.pushTokens).toEqual([]);
    }
    for (const key of keysOf(p)) holders.set(key, [...(holders.get(key) ?? []), p.id]);
  }
  for (const [key, ids] of holders) expect(ids, `holders of ${key}`).toHaveLength(1);
}

function expectTombstonesPointAtLiveProfiles(world: World): void {
  for (const p of world.profiles.values()) {
    if (p.mergedInto === null) continue;
    const target = world.profiles.get(p.mergedInto);
    expect(target, `${p.id} points at ${p.mergedInto}`).toBeDefined();
    expect(target!.mergedInto, `${p.id} -> ${p.mergedInto} is a chain`).toBeNull();
  }
}

function expectWithinIdentifierLimit(world: World): void {
  for (const p of world.live()) {
    expect(identifierCount(p), `identifiers of ${p.id}`).toBeLessThanOrEqual(MAX_IDS);
  }
}

const settles = (outcome: Outcome) => outcome === 'MERGED' || outcome === 'IDENTIFIED';

/** Replaying a request against the world it produced changes nothing. */
function expectReplayChangesNothing(
  world: World,
  items: readonly IdentifyItem[],
  b: MergeBehavior,
) {
  const replay = world.plan(items, b);
  expect(replay.changed, `replay of ${JSON.stringify(items)}`).toEqual([]);
  expect(replay.merges).toEqual([]);
  expect(replay.results.filter((r) => settles(r.outcome))).toEqual([]);
}

function expectAnonIdsKeepTheirOwner(world: World, owners: Map<string, string>): void {
  for (const anonId of ANONS) {
    const holder = world.holder(keyOfAlias({ aliasLabel: ANON_LABEL, aliasName: anonId }));
    const owner = owners.get(anonId);
    if (owner !== undefined) {
      expect(holder?.externalId, `owner of ${anonId}`).toBe(owner);
    } else if (holder?.externalId != null) {
      owners.set(anonId, holder.externalId);
    }
  }
}

function expectSameAsReference(world: World, ref: Reference): void {
  expect(world.live().length, 'live profiles').toBe(ref.clusters.size);
  for (const c of ref.clusters) {
    const [someKey] = c.ids;
    const p = world.holder(someKey);
    expect(p, `profile holding ${someKey}`).toBeDefined();
    expect(sorted(keysOf(p!)), `identifiers of ${p!.id}`).toEqual(sorted(c.ids));
    expect(p!.externalId, `external id of ${p!.id}`).toBe(c.externalId);
    expect(p!.attributes.email, `email of ${p!.id}`).toBe(c.email);
    expect(eventTotal(p!), `events of ${p!.id}`).toBe(c.events);
  }
  const tombstones = [...world.profiles.values()].filter((p) => p.mergedInto !== null);
  expect(
    tombstones.reduce((sum, p) => sum + eventTotal(p), 0),
    'events on tombstones',
  ).toBe(ref.deadEvents);
}

// ---------------------------------------------------------------------------------------------

const RUNS = { numRuns: 200 };

describe('merge engine properties', () => {
  it('keep every invariant after every operation of a random sequence', () => {
    const seen = new Map<string, number>();
    fc.assert(
      fc.property(opsArb(), (ops) => {
        const owners = new Map<string, string>();
        run(ops, (world, step) => {
          expectNothingLost(world);
          expectIdentifiersHeldOnce(world);
          expectTombstonesPointAtLiveProfiles(world);
          expectWithinIdentifierLimit(world);
          expectAnonIdsKeepTheirOwner(world, owners);
          if (step.op.kind !== 'identify' || !step.plan) return;
          for (const r of step.plan.results) {
            const label = r.reason ?? r.outcome;
            seen.set(label, (seen.get(label) ?? 0) + 1);
          }
          // An identifier item settled by the request stays settled. Email items are left out:
          // identifying one of several profiles with the same email may leave another one for
          // the next call (UNIDENTIFIED, LEAST_RECENTLY_UPDATED), as in Braze.
          const { items, mergeBehavior } = step.op;
          expectReplayChangesNothing(
            world,
            items.filter((i) => i.kind !== 'email'),
            mergeBehavior,
          );
          // With each email naming at most one profile, the whole request replays as a no-op.
          if (step.emailMatchesBefore!.every((n) => n <= 1)) {
            expectReplayChangesNothing(world, items, mergeBehavior);
          }
        });
      }),
      RUNS,
    );
    // The sequences reach every interesting outcome (else the properties above prove little).
    for (const label of [
      'MERGED',
      'IDENTIFIED',
      'UNCHANGED',
      'NOT_FOUND',
      'AMBIGUOUS',
      'identified_by_other_external_id',
      'too_many_identifiers',
      'anon_id_not_uuid_v4',
    ]) {
      expect(seen.get(label) ?? 0, `times ${label} was seen`).toBeGreaterThan(0);
    }
  });

  it('keep every tracked event on a live profile when every merge is MERGE', () => {
    fc.assert(
      fc.property(opsArb(['MERGE']), (ops) => {
        const world = run(ops, () => {});
        const live = world.live();
        expect(live.reduce((sum, p) => sum + eventTotal(p), 0)).toBe(world.tracked);
        for (const p of world.profiles.values()) {
          if (p.mergedInto !== null) expect(p.events, `events left on ${p.id}`).toEqual([]);
        }
      }),
      RUNS,
    );
  });

  it('leave the world as a reference model of the rules says after every operation', () => {
    fc.assert(
      fc.property(opsArb(), (ops) => {
        const ref = new Reference();
        run(ops, (world, step) => {
          applyToReference(ref, step.op, world.tick);
          expectSameAsReference(world, ref);
        });
      }),
      RUNS,
    );
  });

  it('give every item the outcome a reference model of the rules gives it', () => {
    fc.assert(
      fc.property(opsArb(), (ops) => {
        const ref = new Reference();
        run(ops, (world, step) => {
          const expected = applyToReference(ref, step.op, world.tick);
          if (!expected || !step.plan || step.op.kind !== 'identify') return;
          const actual = step.plan.results.map((r) => ({ outcome: r.outcome, reason: r.reason }));
          expect(actual, `outcomes of ${JSON.stringify(step.op.items)}`).toEqual(expected);
        });
      }),
      RUNS,
    );
  });
});
