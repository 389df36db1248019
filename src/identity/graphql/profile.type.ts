/** The identity graph as clients read it: profiles, their identifiers and activity summaries. */
import 'reflect-metadata';
import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { listOf } from '../../lib/query-cost.js';
import { DAILY_WINDOW_DAYS } from '../track-aggregate.js';

@ObjectType({ description: 'A person as the gateway knows them.' })
export class Profile {
  @Field(() => ID)
  id: string;

  @Field(() => String, { nullable: true, description: 'Set once the profile is identified.' })
  externalId: string | null;

  @Field(() => String, { nullable: true, description: 'Trimmed and lower-cased.' })
  email: string | null;

  @Field(() => String, { nullable: true })
  firstName: string | null;

  @Field(() => String, { nullable: true })
  lastName: string | null;

  @Field(() => String, { nullable: true })
  gender: string | null;

  @Field(() => String, { nullable: true })
  dateOfBirth: string | null;

  @Field(() => String, { nullable: true })
  phone: string | null;

  @Field(() => String, { nullable: true })
  timeZone: string | null;

  @Field(() => String, { nullable: true })
  homeCity: string | null;

  @Field(() => String, { nullable: true })
  country: string | null;

  @Field(() => String, { nullable: true })
  language: string | null;

  @Field(() => GraphQLJSONObject)
  customAttributes: Record<string, unknown>;

  @Field(() => Int)
  sessionCount: number;

  @Field(() => Date, { nullable: true })
  firstSessionAt: Date | null;

  @Field(() => Date, { nullable: true })
  lastSessionAt: Date | null;

  @Field(() => Date)
  createdAt: Date;

  @Field(() => Date)
  updatedAt: Date;
}

@ObjectType({ description: 'A (label, name) pair that identifies one profile.' })
export class UserAlias {
  @Field(() => String)
  aliasName: string;

  @Field(() => String)
  aliasLabel: string;

  profileId: string;
}

@ObjectType()
export class DailyCount {
  @Field(() => String, { description: 'UTC day, YYYY-MM-DD.' })
  day: string;

  @Field(() => Int)
  count: number;
}

@ObjectType({ description: 'How often and when a profile did one custom event.' })
export class EventSummary {
  @Field(() => String)
  name: string;

  @Field(() => Int)
  count: number;

  @Field(() => Date)
  firstAt: Date;

  @Field(() => Date)
  lastAt: Date;

  @Field(() => [DailyCount], {
    description: 'Occurrences per UTC day over the last 30 days.',
    complexity: listOf(DAILY_WINDOW_DAYS),
  })
  dailyCounts: DailyCount[];
}

@ObjectType()
export class PurchaseSummary {
  @Field(() => Int)
  count: number;

  @Field(() => Int, {
    description:
      'Sum of priceCents × quantity, as sent; saturates at 2147483647 (see totalCentsExact).',
  })
  totalCents: number;

  @Field(() => String, {
    description: 'The exact sum, as a decimal string (it may exceed a GraphQL Int).',
  })
  totalCentsExact: string;

  @Field(() => Date, { nullable: true })
  firstAt: Date | null;

  @Field(() => Date, { nullable: true })
  lastAt: Date | null;
}

@ObjectType()
export class PushToken {
  @Field(() => String)
  appId: string;

  @Field(() => String)
  token: string;

  @Field(() => String, { nullable: true })
  platform: string | null;

  @Field(() => Date)
  updatedAt: Date;
}

@ObjectType({ description: 'Sessions of a profile in one app.' })
export class AppSummary {
  @Field(() => String, { nullable: true, description: 'Null for sessions sent without an app.' })
  appId: string | null;

  @Field(() => Int)
  sessionCount: number;

  @Field(() => Date)
  firstSessionAt: Date;

  @Field(() => Date)
  lastSessionAt: Date;

  @Field(() => Int)
  totalSeconds: number;
}
