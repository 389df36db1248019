/** What trackUsers and createAliases answer. */
import 'reflect-metadata';
import { Field, Int, ObjectType } from 'type-graphql';

import { UserAlias } from './profile.type.js';
import { listOf } from '../../lib/query-cost.js';
import { MAX_ALIASES_PER_REQUEST } from '../alias-service.js';

@ObjectType()
export class TrackUsersPayload {
  @Field(() => Int)
  attributesProcessed: number;

  @Field(() => Int)
  eventsProcessed: number;

  @Field(() => Int)
  purchasesProcessed: number;

  @Field(() => Int)
  sessionsProcessed: number;

  @Field(() => Int)
  pushTokensProcessed: number;

  @Field(() => Int, {
    description:
      'Objects dropped because they name a forgotten identifier (see forgetUsers); the rest were applied.',
  })
  suppressed: number;

  @Field(() => String)
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

@ObjectType()
export class CreateAliasesPayload {
  @Field(() => Int)
  aliasesProcessed: number;

  @Field(() => String)
  message: string;

  @Field(() => [UserAlias], {
    description: 'The aliases as stored, in input order (refused ones left out).',
    complexity: listOf(MAX_ALIASES_PER_REQUEST),
  })
  aliases: UserAlias[];

  @Field(() => [RejectedAlias], { complexity: listOf(MAX_ALIASES_PER_REQUEST) })
  rejected: RejectedAlias[];
}
