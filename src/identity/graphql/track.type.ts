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

  @Field(() => String)
  message: string;
}

@ObjectType()
export class CreateAliasesPayload {
  @Field(() => Int)
  aliasesProcessed: number;

  @Field(() => String)
  message: string;

  @Field(() => [UserAlias], {
    description: 'The aliases as stored, in input order.',
    complexity: listOf(MAX_ALIASES_PER_REQUEST),
  })
  aliases: UserAlias[];
}
