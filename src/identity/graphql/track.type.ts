/** What trackUsers and createAliases answer. */
import 'reflect-metadata';
import { Field, Int, ObjectType } from 'type-graphql';

import { UserAlias } from './profile.type.js';
import { listOf } from '../../lib/query-cost.js';
import { MAX_ALIASES_PER_REQUEST } from '../alias-service.js';

@ObjectType({ description: 'What trackUsers applied, by kind of object.' })
export class TrackUsersPayload {
  @Field(() => Int, { description: 'Attribute objects applied (suppressed ones left out).' })
  attributesProcessed: number;

  @Field(() => Int, { description: 'Events recorded (suppressed ones left out).' })
  eventsProcessed: number;

  @Field(() => Int, { description: 'Purchases recorded (suppressed ones left out).' })
  purchasesProcessed: number;

  @Field(() => Int, { description: 'Sessions recorded (suppressed ones left out).' })
  sessionsProcessed: number;

  @Field(() => Int, { description: 'Push tokens registered (suppressed ones left out).' })
  pushTokensProcessed: number;

  @Field(() => Int, {
    description:
      'Objects dropped because they name a forgotten identifier (see forgetUsers); the rest were applied.',
  })
  suppressed: number;

  @Field(() => String, {
    description: 'Always "success"; a request that fails answers a GraphQL error instead.',
  })
  message: string;
}

@ObjectType({ description: 'An alias createAliases refused on its own; the others were stored.' })
export class RejectedAlias {
  @Field(() => Int, { description: 'Its position in input.userAliases.' })
  index: number;

  @Field(() => String, {
    description: 'FORGOTTEN: the alias, or the user it was for, was forgotten (see forgetUsers).',
  })
  reason: string;
}

@ObjectType({ description: 'What createAliases stored and what it refused.' })
export class CreateAliasesPayload {
  @Field(() => Int, {
    description:
      'Aliases now in place, created or already there (the length of aliases); refused ones are not counted.',
  })
  aliasesProcessed: number;

  @Field(() => String, {
    description: 'Always "success"; a request that fails answers a GraphQL error instead.',
  })
  message: string;

  @Field(() => [UserAlias], {
    description: 'The aliases as stored, in input order (refused ones left out).',
    complexity: listOf(MAX_ALIASES_PER_REQUEST),
  })
  aliases: UserAlias[];

  @Field(() => [RejectedAlias], {
    description: 'The aliases refused on their own, with their input position; empty when none.',
    complexity: listOf(MAX_ALIASES_PER_REQUEST),
  })
  rejected: RejectedAlias[];
}
