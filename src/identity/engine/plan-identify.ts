/**
 * The merge engine: turns an identify request and a snapshot of the profiles it names into a
 * plan. Pure and deterministic: the caller passes the time and an id factory, and applies the
 * plan. Items run in payload order against a working copy of the snapshot, so a later item sees
 * what an earlier one did (an alias identified first, then an anon id merged into it).
 *
 * Strategy, per item:
 *   1. Refuse what Mixpanel or Braze would refuse or silently drop: placeholders, an anon id that
 *      is not a UUID v4 or equals the external id.
 *   2. Resolve the identifier to one live profile (an email through its prioritization).
 *   3. Same external id already: UNCHANGED. Another external id: REJECTED (two identified
 *      profiles are never merged). Unidentified: IDENTIFIED when nobody holds the external id,
 *      else MERGED into the profile that does, within the identifier limit.
 */
import { chooseByEmail } from './email-priority.js';
import {
  identifierKey,
  isAnonIdFormat,
  isPlaceholderId,
  normalizeEmail,
  type IdentifierRef,
  uniqueIdentifierKeys,
} from './identifiers.js';
import { journalledSurvivor, mergeProfiles } from './merge-fields.js';
import type {
  AliasValue,
  EngineContext,
  IdentifierNamed,
  IdentifyItem,
  IdentifyRequest,
  IdentityChange,
  ItemResult,
  MergeRecord,
  Plan,
  ProfileState,
  Reason,
  Snapshot,
} from './model.js';

/** Identifiers a profile holds: its external id and every alias (anon ids included). */
export function identifierCount(p: ProfileState): number {
  return (p.externalId === null ? 0 : 1) + p.aliases.length;
}

/** The identifiers an item names, for locking and loading. */
export function identifiersOf(item: IdentifyItem, anonIdLabel: string): IdentifierRef[] {
  const external: IdentifierRef = { kind: 'externalId', externalId: item.externalId };
  switch (item.kind) {
    case 'alias':
      return [external, { kind: 'alias', ...item.alias }];
    case 'anonId':
      return [external, { kind: 'alias', aliasLabel: anonIdLabel, aliasName: item.anonId }];
    case 'email':
      return [external, { kind: 'email', email: item.email }];
  }
}

/** The working copy: live profiles and the indexes that resolve identifiers to them. */
class Graph {
  readonly profiles = new Map<string, ProfileState>();
  private readonly byKey = new Map<string, string>();

  constructor(profiles: readonly ProfileState[]) {
    for (const p of profiles) this.put(p);
  }

  put(p: ProfileState): void {
    const previous = this.profiles.get(p.id);
    // Forget only the keys that still point here: a merge may have moved them to the survivor.
    if (previous) {
      for (const key of uniqueIdentifierKeys(previous))
        if (this.byKey.get(key) === p.id) this.byKey.delete(key);
    }
    this.profiles.set(p.id, p);
    if (p.mergedInto === null) for (const key of uniqueIdentifierKeys(p)) this.byKey.set(key, p.id);
  }

  resolve(ref: IdentifierRef): ProfileState | undefined {
    const id = this.byKey.get(identifierKey(ref));
    return id === undefined ? undefined : this.profiles.get(id);
  }

  liveWithEmail(email: string): ProfileState[] {
    const normalized = normalizeEmail(email);
    return [...this.profiles.values()].filter(
      (p) =>
        p.mergedInto === null &&
        p.attributes.email !== null &&
        normalizeEmail(p.attributes.email) === normalized,
    );
  }
}

function named(item: IdentifyItem): IdentifierNamed {
  switch (item.kind) {
    case 'alias':
      return { kind: 'alias', ...item.alias };
    case 'anonId':
      return { kind: 'anonId', anonId: item.anonId };
    case 'email':
      return {
        kind: 'email',
        email: normalizeEmail(item.email),
        prioritization: item.prioritization,
      };
  }
}

/** Step 1: the rules that need no profile at all. */
function isForgotten(item: IdentifyItem, request: IdentifyRequest, anonIdLabel: string): boolean {
  const forgotten = request.forgotten;
  if (!forgotten || forgotten.size === 0) return false;
  return identifiersOf(item, anonIdLabel).some((ref) => forgotten.has(identifierKey(ref)));
}

function refuseUpFront(item: IdentifyItem, anonIdLabel: string): Reason | null {
  if (isPlaceholderId(item.externalId)) return 'invalid_external_id';
  const anonId =
    item.kind === 'anonId'
      ? item.anonId
      : item.kind === 'alias' && item.alias.aliasLabel === anonIdLabel
        ? item.alias.aliasName
        : null;
  if (item.kind === 'alias' && isPlaceholderId(item.alias.aliasName)) return 'invalid_identifier';
  if (item.kind === 'email' && isPlaceholderId(item.email)) return 'invalid_identifier';
  if (anonId !== null) {
    if (isPlaceholderId(anonId)) return 'invalid_identifier';
    if (!isAnonIdFormat(anonId)) return 'anon_id_not_uuid_v4';
    if (anonId === item.externalId) return 'anon_id_equals_external_id';
  }
  return null;
}

export function planIdentify(
  request: IdentifyRequest,
  snapshot: Snapshot,
  ctx: EngineContext,
): Plan {
  const graph = new Graph(snapshot.profiles);
  const original = new Map(snapshot.profiles.map((p) => [p.id, p]));
  const results: ItemResult[] = [];
  const merges: MergeRecord[] = [];
  const changes: IdentityChange[] = [];
  const touched = new Set<string>();

  request.items.forEach((item, index) => {
    const result = (outcome: ItemResult['outcome'], extra: Partial<ItemResult> = {}) =>
      results.push({
        index,
        externalId: item.externalId,
        outcome,
        reason: null,
        profileId: null,
        mergeId: null,
        ...extra,
      });

    // 1. Refusals that need no lookup.
    const refused = refuseUpFront(item, snapshot.anonIdLabel);
    if (refused) return result('REJECTED', { reason: refused });
    if (isForgotten(item, request, snapshot.anonIdLabel)) {
      return result('REJECTED', { reason: 'FORGOTTEN' });
    }

    // 2. Resolve the identifier to the one live profile it names.
    let source: ProfileState | undefined;
    if (item.kind === 'email') {
      const choice = chooseByEmail(graph.liveWithEmail(item.email), item.prioritization);
      if (choice.kind === 'none') return result('NOT_FOUND');
      if (choice.kind === 'ambiguous') return result('AMBIGUOUS');
      source = choice.profile;
    } else {
      const [, ref] = identifiersOf(item, snapshot.anonIdLabel);
      source = graph.resolve(ref);
      if (!source) return result('NOT_FOUND');
    }

    // 3. Decide by who holds the identifier and who holds the external id.
    if (source.externalId === item.externalId) return result('UNCHANGED', { profileId: source.id });
    if (source.externalId !== null) {
      return result('REJECTED', {
        reason: 'identified_by_other_external_id',
        profileId: source.id,
      });
    }
    const target = graph.resolve({ kind: 'externalId', externalId: item.externalId });
    const anonIds = source.aliases
      .filter((a) => a.aliasLabel === snapshot.anonIdLabel)
      .map((a) => a.aliasName);
    const otherAliases = source.aliases.filter((a) => a.aliasLabel !== snapshot.anonIdLabel);

    if (!target) {
      // Nobody holds the external id: it is written onto the unidentified profile.
      if (identifierCount(source) + 1 > snapshot.maxIdsPerProfile) {
        return result('REJECTED', { reason: 'too_many_identifiers', profileId: source.id });
      }
      graph.put({ ...source, externalId: item.externalId, updatedAt: ctx.now });
      touched.add(source.id);
      changes.push(
        change(
          'identified',
          index,
          item,
          source.id,
          null,
          null,
          request,
          anonIds,
          otherAliases,
          labels(source.aliases),
        ),
      );
      return result('IDENTIFIED', { profileId: source.id });
    }

    // The external id's profile absorbs the unidentified one.
    if (identifierCount(target) + identifierCount(source) > snapshot.maxIdsPerProfile) {
      return result('REJECTED', { reason: 'too_many_identifiers', profileId: target.id });
    }
    const merged = mergeProfiles(target, source, request.mergeBehavior, ctx.now);
    // Profiles absorbed earlier by `source` now point at the new survivor: no tombstone chains.
    for (const p of graph.profiles.values()) {
      if (p.mergedInto === source.id) {
        graph.put({ ...p, mergedInto: target.id });
        touched.add(p.id);
      }
    }
    graph.put(merged.survivor);
    graph.put(merged.absorbed);
    touched.add(target.id).add(source.id);
    const mergeId = ctx.newId();
    merges.push({
      id: mergeId,
      behavior: request.mergeBehavior,
      survivorId: target.id,
      absorbedId: source.id,
      externalId: item.externalId,
      identifier: named(item),
      changedFields: merged.changedFields,
      survivorBefore: journalledSurvivor(target, merged.changedFields),
      absorbedBefore: source,
    });
    changes.push(
      change(
        'merged',
        index,
        item,
        target.id,
        source.id,
        mergeId,
        request,
        anonIds,
        otherAliases,
        labels(target.aliases),
      ),
    );
    return result('MERGED', { profileId: target.id, mergeId });
  });

  const changed = [...touched]
    .map((id) => graph.profiles.get(id)!)
    .filter((p) => p !== original.get(p.id));
  return { results, changed, merges, changes };
}

function labels(aliases: readonly AliasValue[]): string[] {
  return [...new Set(aliases.map((a) => a.aliasLabel))];
}

function change(
  kind: IdentityChange['kind'],
  index: number,
  item: IdentifyItem,
  profileId: string,
  absorbedProfileId: string | null,
  mergeId: string | null,
  request: IdentifyRequest,
  anonIds: string[],
  aliases: AliasValue[],
  survivorAliasLabels: string[],
): IdentityChange {
  return {
    kind,
    index,
    mergeId,
    externalId: item.externalId,
    profileId,
    absorbedProfileId,
    behavior: request.mergeBehavior,
    identifier: named(item),
    anonIds,
    aliases,
    survivorAliasLabels,
  };
}
