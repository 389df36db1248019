/** trackUsers and createAliases inputs: each object names its user by exactly one identifier. */
import 'reflect-metadata';
import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, InputType, Int } from 'type-graphql';

import { UserAliasInput } from './lookup.input.js';

@InputType()
abstract class UserRefFields {
  @Field(() => String, { nullable: true })
  externalId?: string | null;

  @Field(() => UserAliasInput, { nullable: true })
  userAlias?: UserAliasInput | null;

  @Field(() => String, {
    nullable: true,
    description: 'A UUID v4, optionally "$device:"-prefixed.',
  })
  anonId?: string | null;
}

@InputType({ description: 'Attributes to set; null clears one, an absent field is left alone.' })
export class UserAttributesInput extends UserRefFields {
  @Field(() => String, { nullable: true })
  email?: string | null;

  @Field(() => String, { nullable: true })
  firstName?: string | null;

  @Field(() => String, { nullable: true })
  lastName?: string | null;

  @Field(() => String, { nullable: true })
  gender?: string | null;

  @Field(() => String, { nullable: true })
  dateOfBirth?: string | null;

  @Field(() => String, { nullable: true })
  phone?: string | null;

  @Field(() => String, { nullable: true })
  timeZone?: string | null;

  @Field(() => String, { nullable: true })
  homeCity?: string | null;

  @Field(() => String, { nullable: true })
  country?: string | null;

  @Field(() => String, { nullable: true })
  language?: string | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: 'Keys to set; a key set to null is removed.',
  })
  customAttributes?: Record<string, unknown> | null;
}

@InputType()
export class UserEventInput extends UserRefFields {
  @Field(() => String)
  name: string;

  @Field(() => Date)
  time: Date;

  @Field(() => GraphQLJSONObject, { nullable: true })
  properties?: Record<string, unknown> | null;
}

@InputType()
export class UserPurchaseInput extends UserRefFields {
  @Field(() => String)
  productId: string;

  @Field(() => Int)
  priceCents: number;

  @Field(() => String, { nullable: true, defaultValue: 'USD' })
  currency?: string | null;

  @Field(() => Int, { nullable: true, defaultValue: 1 })
  quantity?: number | null;

  @Field(() => Date)
  time: Date;
}

@InputType()
export class UserSessionInput extends UserRefFields {
  @Field(() => String, { nullable: true })
  appId?: string | null;

  @Field(() => Date)
  startedAt: Date;

  @Field(() => Date, { nullable: true })
  endedAt?: Date | null;
}

@InputType()
export class PushTokenInput extends UserRefFields {
  @Field(() => String)
  appId: string;

  @Field(() => String)
  token: string;

  @Field(() => String, { nullable: true })
  platform?: string | null;
}

@InputType({ description: 'Up to 75 objects of each kind.' })
export class TrackUsersInput {
  @Field(() => [UserAttributesInput], { nullable: true })
  attributes?: UserAttributesInput[] | null;

  @Field(() => [UserEventInput], { nullable: true })
  events?: UserEventInput[] | null;

  @Field(() => [UserPurchaseInput], { nullable: true })
  purchases?: UserPurchaseInput[] | null;

  @Field(() => [UserSessionInput], { nullable: true })
  sessions?: UserSessionInput[] | null;

  @Field(() => [PushTokenInput], { nullable: true })
  pushTokens?: PushTokenInput[] | null;
}

@InputType()
export class NewAliasInput {
  @Field(() => String)
  aliasName: string;

  @Field(() => String)
  aliasLabel: string;

  @Field(() => String, {
    nullable: true,
    description: 'The profile to add the alias to; without it a new alias-only profile is created.',
  })
  externalId?: string | null;
}

@InputType({ description: 'Up to 50 aliases.' })
export class CreateAliasesInput {
  @Field(() => [NewAliasInput])
  userAliases: NewAliasInput[];
}
