/** trackUsers and createAliases inputs: each object names its user by exactly one identifier. */
import 'reflect-metadata';
import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, InputType, Int } from 'type-graphql';

import { UserAliasInput } from './lookup.input.js';

@InputType()
abstract class UserRefFields {
  @Field(() => String, {
    nullable: true,
    description:
      'Names the user by your external id, e.g. "user-42" (at most 255 characters, no surrounding white space, not a placeholder such as "null"); an unknown one creates an identified profile. Give exactly one of externalId, userAlias, anonId.',
  })
  externalId?: string | null;

  @Field(() => UserAliasInput, {
    nullable: true,
    description:
      'Names the user by an alias, e.g. { aliasLabel: "crm_id", aliasName: "C-1001" }; an unknown one creates an alias-only profile. Give exactly one of externalId, userAlias, anonId.',
  })
  userAlias?: UserAliasInput | null;

  @Field(() => String, {
    nullable: true,
    description:
      'Names the user by an anonymous id, a UUID v4 optionally "$device:"-prefixed and stored exactly as sent, e.g. "$device:3f2c1a9e-7b4d-4e21-9c3a-5d6e7f809a1b"; an unknown one creates an anonymous profile. Give exactly one of externalId, userAlias, anonId.',
  })
  anonId?: string | null;
}

@InputType({
  description:
    'Attributes to set on one user: an absent field is left alone, null clears it. Text values are at most 255 characters; several objects for one user apply in order.',
})
export class UserAttributesInput extends UserRefFields {
  @Field(() => String, {
    nullable: true,
    description:
      'Must look like an address (something@domain); stored trimmed and lower-cased, e.g. "ada@example.com".',
  })
  email?: string | null;

  @Field(() => String, { nullable: true, description: 'First name, e.g. "Ada".' })
  firstName?: string | null;

  @Field(() => String, { nullable: true, description: 'Last name, e.g. "Lovelace".' })
  lastName?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Gender, free text stored as sent, e.g. "F".',
  })
  gender?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Date of birth, free text stored as sent, e.g. "1990-04-17".',
  })
  dateOfBirth?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Phone number, free text stored as sent, e.g. "+14155550123".',
  })
  phone?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Time zone, free text stored as sent, e.g. "Europe/London".',
  })
  timeZone?: string | null;

  @Field(() => String, { nullable: true, description: 'Home city, e.g. "London".' })
  homeCity?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Country, free text stored as sent, e.g. "GB".',
  })
  country?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Language, free text stored as sent, e.g. "en".',
  })
  language?: string | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description:
      'Merged key by key into the stored custom attributes, e.g. { "plan": "pro" }: a key set to null is removed, keys not sent are kept. Keys are 1 to 255 characters; values any JSON up to 8 levels deep.',
  })
  customAttributes?: Record<string, unknown> | null;
}

@InputType({
  description:
    'One custom event of one user. The profile keeps a summary per event name, and daily counts for the last 30 UTC days.',
})
export class UserEventInput extends UserRefFields {
  @Field(() => String, {
    description: 'The event name, e.g. "Signed Up"; not blank, at most 255 characters.',
  })
  name: string;

  @Field(() => Date, {
    description: 'When it happened: from 1971-01-01 to at most one hour in the future.',
  })
  time: Date;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description:
      'Event properties as a JSON object up to 8 levels deep, e.g. { "page": "/pricing" }; checked but not stored.',
  })
  properties?: Record<string, unknown> | null;
}

@InputType({
  description: "One purchase of one user, added to the profile's purchase summary.",
})
export class UserPurchaseInput extends UserRefFields {
  @Field(() => String, {
    description: 'The product, e.g. "sku-1"; not blank, at most 255 characters.',
  })
  productId: string;

  @Field(() => Int, {
    description: 'Price of one item in minor units of the currency, e.g. 1999; not negative.',
  })
  priceCents: number;

  @Field(() => String, {
    nullable: true,
    defaultValue: 'USD',
    description:
      'An ISO 4217 code of three capital letters, e.g. "EUR"; totals are summed without conversion.',
  })
  currency?: string | null;

  @Field(() => Int, {
    nullable: true,
    defaultValue: 1,
    description: 'Items bought, 1 to 100.',
  })
  quantity?: number | null;

  @Field(() => Date, {
    description: 'When it happened: from 1971-01-01 to at most one hour in the future.',
  })
  time: Date;
}

@InputType({
  description: "One app session of one user, added to the profile's session totals.",
})
export class UserSessionInput extends UserRefFields {
  @Field(() => String, {
    nullable: true,
    description:
      'The app, e.g. "ios"; at most 255 characters. Sessions without one are summed under appId null.',
  })
  appId?: string | null;

  @Field(() => Date, {
    description: 'When the session started: from 1971-01-01 to at most one hour in the future.',
  })
  startedAt: Date;

  @Field(() => Date, {
    nullable: true,
    description:
      'When it ended, not before startedAt and from 1971-01-01 to at most one hour in the future; without it the session counts 0 seconds.',
  })
  endedAt?: Date | null;
}

@InputType({
  description:
    'A push token to register to one user. A token registered before to another profile moves to this one.',
})
export class PushTokenInput extends UserRefFields {
  @Field(() => String, {
    description: 'The app the token is for, e.g. "ios"; not blank, at most 255 characters.',
  })
  appId: string;

  @Field(() => String, {
    description:
      'The token, e.g. "apns-token-abc"; not blank, at most 4096 characters. (appId, token) is unique within the workspace.',
  })
  token: string;

  @Field(() => String, {
    nullable: true,
    description:
      'The platform, e.g. "ios"; at most 255 characters. Without it the platform already known is kept.',
  })
  platform?: string | null;
}

@InputType({
  description:
    'What to record: up to 75 objects of each kind, each naming its user by exactly one of externalId, userAlias, anonId. Any problem is BAD_USER_INPUT and nothing is written.',
})
export class TrackUsersInput {
  @Field(() => [UserAttributesInput], {
    nullable: true,
    description: 'Attribute updates, at most 75, applied in order.',
  })
  attributes?: UserAttributesInput[] | null;

  @Field(() => [UserEventInput], { nullable: true, description: 'Custom events, at most 75.' })
  events?: UserEventInput[] | null;

  @Field(() => [UserPurchaseInput], { nullable: true, description: 'Purchases, at most 75.' })
  purchases?: UserPurchaseInput[] | null;

  @Field(() => [UserSessionInput], { nullable: true, description: 'App sessions, at most 75.' })
  sessions?: UserSessionInput[] | null;

  @Field(() => [PushTokenInput], {
    nullable: true,
    description: 'Push token registrations, at most 75.',
  })
  pushTokens?: PushTokenInput[] | null;
}

@InputType({ description: "One alias to create, as an entry of Braze's /users/alias/new." })
export class NewAliasInput {
  @Field(() => String, {
    description:
      'The identifier within its label, e.g. "nl-77": at most 255 characters, not a placeholder such as "null"; under the workspace\'s anon-id label, a UUID v4.',
  })
  aliasName: string;

  @Field(() => String, {
    description:
      'The namespace of the alias, e.g. "newsletter"; not blank, at most 255 characters.',
  })
  aliasLabel: string;

  @Field(() => String, {
    nullable: true,
    description:
      'The external id of the profile to add the alias to, e.g. "user-42" (an identified profile is created if none has it); without it, a new alias-only profile is created.',
  })
  externalId?: string | null;
}

@InputType({ description: 'The aliases to create: 1 to 50.' })
export class CreateAliasesInput {
  @Field(() => [NewAliasInput], {
    description:
      '1 to 50 aliases. The same alias twice counts once; twice for different external ids is BAD_USER_INPUT.',
  })
  userAliases: NewAliasInput[];
}
