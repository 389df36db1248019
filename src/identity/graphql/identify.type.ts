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
  valuesConfig: {
    MERGED: {
      description: 'An unidentified profile was merged into the profile holding externalId.',
    },
    IDENTIFIED: {
      description: 'Nobody held externalId: it was written onto the unidentified profile.',
    },
    UNCHANGED: { description: 'Already identified with this externalId; a repeat is a no-op.' },
    NOT_FOUND: { description: 'No profile holds the alias, email or anon id.' },
    AMBIGUOUS: { description: 'Email prioritization could not pick exactly one profile.' },
    REJECTED: { description: 'A rule forbids it; `reason` says which.' },
  },
});

@ObjectType({ description: 'One unidentified profile absorbed into an identified one.' })
export class Merge {
  @Field(() => ID)
  id: string;

  @Field(() => MergeBehavior)
  behavior: MergeBehavior;

  @Field(() => ID)
  absorbedProfileId: string;

  @Field(() => String, { description: 'The external id the merge was asked for.' })
  externalId: string;

  @Field(() => [String], {
    description:
      'Survivor fields the merge changed, e.g. firstName, customAttributes.plan, events.signup.',
  })
  changedFields: string[];

  @Field(() => Date)
  createdAt: Date;

  @Field(() => Date, { nullable: true })
  undoneAt: Date | null;
}

@ObjectType()
export class IdentifyResult {
  @Field(() => Int, {
    description: 'Position across the payload: aliases, then emails, then anon ids.',
  })
  index: number;

  @Field(() => String)
  externalId: string;

  @Field(() => IdentifyOutcome)
  outcome: IdentifyOutcome;

  @Field(() => String, { nullable: true, description: 'Why an item was REJECTED (see README).' })
  reason: string | null;

  profileId: string | null;
  mergeId: string | null;
  changeId: string | null;
}

@ObjectType()
export class IdentifyUsersPayload {
  @Field(() => Int, {
    description: 'Identifiers now held by their external id (MERGED, IDENTIFIED, UNCHANGED).',
  })
  aliasesProcessed: number;

  @Field(() => String)
  message: string;

  @Field(() => Boolean)
  dryRun: boolean;

  @Field(() => [IdentifyResult], {
    description: 'In input order: aliases, then emails, then anon ids.',
    complexity: listOf(MAX_IDENTIFIERS_PER_REQUEST),
  })
  results: IdentifyResult[];
}
