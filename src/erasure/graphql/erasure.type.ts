/** forgetUsers' input and answer, and erasure receipts as clients read them. */
import 'reflect-metadata';
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';

import { ProfileLookup } from '../../identity/graphql/lookup.input.js';
import { listOf } from '../../lib/query-cost.js';
import { MAX_FORGET_USERS } from '../erasure-service.js';

export enum ForgetOutcome {
  FORGOTTEN = 'FORGOTTEN',
  NOT_FOUND = 'NOT_FOUND',
  REJECTED = 'REJECTED',
}
registerEnumType(ForgetOutcome, {
  name: 'ForgetOutcome',
  valuesConfig: {
    FORGOTTEN: { description: 'The person was erased here; vendor deletions are queued.' },
    NOT_FOUND: {
      description:
        'No live profile holds the identifier (it is still suppressed when suppress is true).',
    },
    REJECTED: { description: 'The lookup is malformed; `reason` says how.' },
  },
});

export enum ErasureStatus {
  PENDING = 'PENDING',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
}
registerEnumType(ErasureStatus, {
  name: 'ErasureStatus',
  valuesConfig: {
    PENDING: { description: 'Erased here; a vendor deletion is still waiting or retrying.' },
    COMPLETED: { description: 'Erased here, and every vendor deletion was delivered.' },
    FAILED: {
      description: 'A vendor deletion is DEAD (see deliveries); retryDeliveries sends it again.',
    },
  },
});

@InputType()
export class ForgetUsersInput {
  @Field(() => [ProfileLookup], {
    description: '1 to 50 people, each named by exactly one identifier (or a profile id).',
  })
  users: ProfileLookup[];

  @Field(() => String, {
    nullable: true,
    description: 'Kept on the receipt (e.g. a ticket number); at most 200 characters.',
  })
  reason?: string | null;

  @Field(() => Boolean, {
    nullable: true,
    defaultValue: true,
    description:
      'Put every identifier of the person on the suppression list: trackUsers drops them, createAliases and identifyUsers refuse them.',
  })
  suppress?: boolean | null;

  @Field(() => Boolean, {
    nullable: true,
    defaultValue: false,
    description: 'Report who would be forgotten and write nothing.',
  })
  dryRun?: boolean | null;

  @Field(() => String, {
    nullable: true,
    description: 'A repeat with the same key returns the first result and erases nothing more.',
  })
  idempotencyKey?: string | null;
}

@ObjectType({
  description:
    'Proof that a person was forgotten, without naming them: keyed fingerprints of the identifiers they held.',
})
export class Erasure {
  @Field(() => ID)
  id: string;

  @Field(() => ErasureStatus)
  status: ErasureStatus;

  @Field(() => Date)
  requestedAt: Date;

  @Field(() => Date, {
    nullable: true,
    description: 'When the last vendor deletion was delivered.',
  })
  completedAt: Date | null;

  @Field(() => String, { nullable: true })
  reason: string | null;

  @Field(() => Int, { description: 'Identifiers the person held when forgotten.' })
  identifierCount: number;

  @Field(() => [String], {
    description:
      "HMAC-SHA-256 (hex) of each identifier under the workspace's erasure secret; never the identifiers.",
  })
  fingerprints: string[];

  @Field(() => [String], {
    description:
      'What this erasure could not reach. MIXPANEL_EVENTS: Mixpanel has no GDPR token in this workspace, so its profiles were deleted but not its events.',
  })
  notErased: string[];
}

@ObjectType()
export class ForgetResult {
  @Field(() => Int, { description: 'Position in input.users.' })
  index: number;

  @Field(() => ForgetOutcome)
  outcome: ForgetOutcome;

  @Field(() => String, { nullable: true, description: 'Why a lookup was REJECTED.' })
  reason: string | null;

  @Field(() => Erasure, {
    nullable: true,
    description: 'The receipt (on dryRun, the one that would be written; not stored).',
  })
  erasure: Erasure | null;
}

@ObjectType()
export class ForgetUsersPayload {
  @Field(() => Boolean)
  dryRun: boolean;

  @Field(() => [ForgetResult], { complexity: listOf(MAX_FORGET_USERS) })
  results: ForgetResult[];
}
