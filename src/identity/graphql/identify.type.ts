/** What identifyUsers answers, and the merge journal as clients read it. */
import 'reflect-metadata';
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';

import { MergeBehavior } from './identify.input.js';
import { listOf } from '../../lib/query-cost.js';
import { MAX_IDENTIFIERS_PER_REQUEST } from '../identify-input.js';

export enum IdentifyOutcome {
  MERGED = 'MERGED',
  IDENTIFIED = 'IDENTIFIED',
  UNCHANGED = 'UNCHANGED',
  NOT_FOUND = 'NOT_FOUND',
  AMBIGUOUS = 'AMBIGUOUS',
  REJECTED = 'REJECTED',
}
registerEnumType(IdentifyOutcome, {
  name: 'IdentifyOutcome',
  description: 'What identifyUsers decided for one item.',
  valuesConfig: {
    MERGED: {
      description: 'An unidentified profile was merged into the profile holding externalId.',
    },
    IDENTIFIED: {
      description: 'Nobody held externalId: it was written onto the unidentified profile.',
    },
    UNCHANGED: { description: 'Already identified with this externalId; a repeat is a no-op.' },
    NOT_FOUND: { description: 'No live profile holds the alias, email or anonymous id.' },
    AMBIGUOUS: {
      description: 'Email prioritization could not pick exactly one profile; nothing merged.',
    },
    REJECTED: { description: 'A rule forbids it; `reason` says which. Nothing changed.' },
  },
});

@ObjectType({
  description:
    'One entry of the merge journal: an unidentified profile absorbed into an identified one by identifyUsers. An undone merge stays in the journal with undoneAt set.',
})
export class Merge {
  @Field(() => ID, {
    description:
      'The merge id, a UUID, to pass to undoMerge, e.g. "01a2082f-0c3e-7b52-a1d4-2e9f5c7b8a60".',
  })
  id: string;

  @Field(() => MergeBehavior, { description: 'The mergeBehavior the request asked for.' })
  behavior: MergeBehavior;

  @Field(() => ID, {
    description:
      'The id of the unidentified profile that was absorbed. While the merge stands, profile(by: { id }) with it returns the survivor; after undoMerge, the profile itself again.',
  })
  absorbedProfileId: string;

  @Field(() => String, {
    description: 'The external id the identification named, e.g. "user-42": the survivor\'s.',
  })
  externalId: string;

  @Field(() => [String], {
    description:
      'Survivor fields the merge filled or combined, e.g. firstName, customAttributes.plan, events.signup, aliases. undoMerge restores exactly these.',
  })
  changedFields: string[];

  @Field(() => Date, { description: 'When the merge was made.' })
  createdAt: Date;

  @Field(() => Date, {
    nullable: true,
    description: 'When undoMerge took the merge back; null while it stands.',
  })
  undoneAt: Date | null;
}

@ObjectType({ description: 'What identifyUsers decided for one item, and where it led.' })
export class IdentifyResult {
  @Field(() => Int, {
    description:
      "The item's position across the three input lists counted together, from 0: aliases, then emails, then anonymous ids.",
  })
  index: number;

  @Field(() => String, { description: 'The external id the item named, e.g. "user-42".' })
  externalId: string;

  @Field(() => IdentifyOutcome, { description: 'What was decided.' })
  outcome: IdentifyOutcome;

  @Field(() => String, {
    nullable: true,
    description:
      'Set for REJECTED only: invalid_external_id, invalid_identifier, anon_id_not_uuid_v4, anon_id_equals_external_id, identified_by_other_external_id, too_many_identifiers or FORGOTTEN.',
  })
  reason: string | null;

  profileId: string | null;
  mergeId: string | null;
  changeId: string | null;
}

@ObjectType({ description: 'The answer of identifyUsers: one result per item.' })
export class IdentifyUsersPayload {
  @Field(() => Int, {
    description:
      'Items whose identifier is now held by their external id (outcome MERGED, IDENTIFIED or UNCHANGED).',
  })
  aliasesProcessed: number;

  @Field(() => String, {
    description:
      'Always "success"; per-item outcomes are in results, and a request that fails answers a GraphQL error instead.',
  })
  message: string;

  @Field(() => Boolean, {
    description: 'True when nothing was written: the results say what the request would do.',
  })
  dryRun: boolean;

  @Field(() => [IdentifyResult], {
    description: 'One per item, in input order: aliases, then emails, then anonymous ids.',
    complexity: listOf(MAX_IDENTIFIERS_PER_REQUEST),
  })
  results: IdentifyResult[];
}
