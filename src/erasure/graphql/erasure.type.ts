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
  description: 'Whether forgetUsers forgot the person that one entry of input.users names.',
  valuesConfig: {
    FORGOTTEN: {
      description:
        'The person was erased here and their vendor deletions are queued (on dryRun: would be).',
    },
    NOT_FOUND: {
      description:
        'No live profile holds the identifier: a receipt of no identifiers is written, nothing is sent to the vendors, and the identifier is still suppressed when suppress is true.',
    },
    REJECTED: {
      description: 'The lookup is malformed and nothing was done for it; `reason` says how.',
    },
  },
});

export enum ErasureStatus {
  PENDING = 'PENDING',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
}
registerEnumType(ErasureStatus, {
  name: 'ErasureStatus',
  description:
    "Where an erasure stands: the person is always erased here at once; the status follows the vendors' deletions.",
  valuesConfig: {
    PENDING: { description: 'Erased here; a vendor deletion is still waiting or retrying.' },
    COMPLETED: {
      description:
        'Erased here, and every vendor deletion was delivered (at once when there was none to send).',
    },
    FAILED: {
      description:
        'A vendor deletion is DEAD (see deliveries); retryDeliveries requeues it and puts the erasure back to PENDING.',
    },
  },
});

@InputType({ description: 'Whom forgetUsers forgets, and how.' })
export class ForgetUsersInput {
  @Field(() => [ProfileLookup], {
    description:
      '1 to 50 people, each named by exactly one identifier (or a profile id), resolved as profile(by:) resolves it. Fewer or more is BAD_USER_INPUT; a malformed lookup is REJECTED on its own.',
  })
  users: ProfileLookup[];

  @Field(() => String, {
    nullable: true,
    description:
      'Kept on the receipt, e.g. a ticket number such as "DSR-1187" (not the person\'s name); at most 200 characters.',
  })
  reason?: string | null;

  @Field(() => Boolean, {
    nullable: true,
    defaultValue: true,
    description:
      'Put every identifier of the person on the suppression list: trackUsers then drops them, createAliases and identifyUsers refuse them (reason FORGOTTEN), until liftSuppression.',
  })
  suppress?: boolean | null;

  @Field(() => Boolean, {
    nullable: true,
    defaultValue: false,
    description:
      'Report who would be forgotten, with the receipts that would be written, and write or send nothing.',
  })
  dryRun?: boolean | null;

  @Field(() => String, {
    nullable: true,
    description:
      'A repeat with the same key within the idempotency window (24 hours by default) returns the first result and erases nothing more; the same key with another request is CONFLICT. At most 255 characters; ignored on dryRun.',
  })
  idempotencyKey?: string | null;
}

@ObjectType({
  description:
    'Proof that a person was forgotten, without naming them: keyed fingerprints of the identifiers they held.',
})
export class Erasure {
  @Field(() => ID, {
    description:
      'The receipt id, a UUID, e.g. "01a22dca-d92f-744f-8315-3893069e646e"; erasure(id:) takes it.',
  })
  id: string;

  @Field(() => ErasureStatus, { description: "Where the vendors' deletions stand." })
  status: ErasureStatus;

  @Field(() => Date, { description: 'When forgetUsers erased the person here.' })
  requestedAt: Date;

  @Field(() => Date, {
    nullable: true,
    description:
      'When the erasure became COMPLETED: the last vendor deletion was delivered (or at once when there was none); null otherwise.',
  })
  completedAt: Date | null;

  @Field(() => String, {
    nullable: true,
    description: "The reason given in forgetUsers' input, as given; null when none was.",
  })
  reason: string | null;

  @Field(() => Int, {
    description:
      'How many identifiers (external id, email, aliases and anonymous ids) the person held when forgotten; 0 for NOT_FOUND.',
  })
  identifierCount: number;

  @Field(() => [String], {
    description:
      "HMAC-SHA-256 (hex) of each identifier the person held, under the workspace's erasure secret; never the identifiers themselves.",
  })
  fingerprints: string[];

  @Field(() => [String], {
    description:
      'What this erasure could not reach. MIXPANEL_EVENTS: Mixpanel has no GDPR token in this workspace, so its profiles were deleted but not its events. Empty when nothing was left out.',
  })
  notErased: string[];
}

@ObjectType({ description: 'What forgetUsers did with one entry of input.users.' })
export class ForgetResult {
  @Field(() => Int, { description: 'Position in input.users, from 0.' })
  index: number;

  @Field(() => ForgetOutcome, { description: 'Whether the person was forgotten.' })
  outcome: ForgetOutcome;

  @Field(() => String, {
    nullable: true,
    description:
      'Why the lookup was REJECTED, e.g. "by: give exactly one of id, externalId, alias, email, anonId"; null otherwise.',
  })
  reason: string | null;

  @Field(() => Erasure, {
    nullable: true,
    description:
      'The receipt, for FORGOTTEN and NOT_FOUND (one person named twice shares one); on dryRun the one that would be written, not stored. Null for REJECTED.',
  })
  erasure: Erasure | null;
}

@ObjectType({ description: "forgetUsers' answer." })
export class ForgetUsersPayload {
  @Field(() => Boolean, {
    description: 'True when this was a dry run: nothing was written or sent.',
  })
  dryRun: boolean;

  @Field(() => [ForgetResult], {
    description: 'One result per entry of input.users, in the same order.',
    complexity: listOf(MAX_FORGET_USERS),
  })
  results: ForgetResult[];
}
