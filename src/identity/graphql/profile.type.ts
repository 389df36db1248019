/** The identity graph as clients read it: profiles, their identifiers and activity summaries. */
import 'reflect-metadata';
import { GraphQLJSONObject } from 'graphql-scalars';
import { Directive, Field, ID, Int, ObjectType } from 'type-graphql';
import { listOf } from '../../lib/query-cost.js';
import { DAILY_WINDOW_DAYS } from '../track-aggregate.js';

@Directive('@key(fields: "id")')
@Directive('@key(fields: "externalId")')
@ObjectType({
  description:
    'A person as the gateway knows them: identifiers, attributes and summaries of their activity. A profile is identified once it has an external id; otherwise it is known by aliases or anonymous ids only.',
})
export class Profile {
  @Field(() => ID, {
    description:
      'The gateway\'s id for the profile, a UUID, e.g. "01a2082e-fd66-72e3-865d-40d375188573".',
  })
  id: string;

  @Field(() => String, {
    nullable: true,
    description: 'Your id for the user, e.g. "user-42"; null until the profile is identified.',
  })
  externalId: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Email address, trimmed and lower-cased, e.g. "ada@example.com".',
  })
  email: string | null;

  @Field(() => String, { nullable: true, description: 'First name as sent, e.g. "Ada".' })
  firstName: string | null;

  @Field(() => String, { nullable: true, description: 'Last name as sent, e.g. "Lovelace".' })
  lastName: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Gender as sent (free text, no format enforced), e.g. "F".',
  })
  gender: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Date of birth as sent (free text, no format enforced), e.g. "1990-04-17".',
  })
  dateOfBirth: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Phone number as sent (free text), e.g. "+14155550123".',
  })
  phone: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Time zone as sent (free text), e.g. "Europe/London".',
  })
  timeZone: string | null;

  @Field(() => String, { nullable: true, description: 'Home city as sent, e.g. "London".' })
  homeCity: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Country as sent (free text), e.g. "GB".',
  })
  country: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Language as sent (free text), e.g. "en".',
  })
  language: string | null;

  @Field(() => GraphQLJSONObject, {
    description: 'Your own attributes as one JSON object, e.g. { "plan": "pro" }; {} when none.',
  })
  customAttributes: Record<string, unknown>;

  @Field(() => Int, { description: 'Sessions recorded, over all apps.' })
  sessionCount: number;

  @Field(() => Date, {
    nullable: true,
    description: 'Start of the earliest session, over all apps; null before any session.',
  })
  firstSessionAt: Date | null;

  @Field(() => Date, {
    nullable: true,
    description: 'Start of the latest session, over all apps; null before any session.',
  })
  lastSessionAt: Date | null;

  @Field(() => Date, { description: 'When the gateway created the profile.' })
  createdAt: Date;

  @Field(() => Date, {
    description:
      'When a write (tracking, aliases, identification, a merge) last changed the profile.',
  })
  updatedAt: Date;
}

@ObjectType({
  description:
    "A (label, name) pair that names exactly one profile, e.g. crm_id / C-1001. Anonymous ids are aliases under the workspace's anon-id label.",
})
export class UserAlias {
  @Field(() => String, { description: 'The identifier within its label, e.g. "C-1001".' })
  aliasName: string;

  @Field(() => String, {
    description:
      'The namespace, e.g. "crm_id"; the workspace\'s anon-id label (by default "anon_id") holds anonymous ids.',
  })
  aliasLabel: string;

  profileId: string;
}

@ObjectType({ description: 'Occurrences of one event on one UTC day.' })
export class DailyCount {
  @Field(() => String, { description: 'The UTC day, YYYY-MM-DD, e.g. "2025-06-02".' })
  day: string;

  @Field(() => Int, { description: 'Occurrences of the event that day.' })
  count: number;
}

@ObjectType({ description: 'How often and when a profile did one custom event.' })
export class EventSummary {
  @Field(() => String, { description: 'The event name as sent, e.g. "Signed Up".' })
  name: string;

  @Field(() => Int, { description: 'Occurrences recorded, all time.' })
  count: number;

  @Field(() => Date, { description: 'The earliest time sent with this event.' })
  firstAt: Date;

  @Field(() => Date, { description: 'The latest time sent with this event.' })
  lastAt: Date;

  @Field(() => [DailyCount], {
    description:
      'Occurrences per UTC day over the last 30 UTC days, today included, oldest first; days without any are left out.',
    complexity: listOf(DAILY_WINDOW_DAYS),
  })
  dailyCounts: DailyCount[];
}

@ObjectType({
  description: "Totals of a profile's purchases, summed as sent without currency conversion.",
})
export class PurchaseSummary {
  @Field(() => Int, { description: "Items bought: the sum of the purchases' quantity." })
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

  @Field(() => Date, {
    nullable: true,
    description: 'The earliest purchase time; null before any purchase.',
  })
  firstAt: Date | null;

  @Field(() => Date, {
    nullable: true,
    description: 'The latest purchase time; null before any purchase.',
  })
  lastAt: Date | null;
}

@ObjectType({
  description:
    'A push notification token registered to a profile. A token belongs to the last profile that registered it.',
})
export class PushToken {
  @Field(() => String, { description: 'The app the token is for, e.g. "ios".' })
  appId: string;

  @Field(() => String, {
    description:
      'The token as the push service issued it, e.g. "apns-token-abc"; unique per app within the workspace.',
  })
  token: string;

  @Field(() => String, {
    nullable: true,
    description: 'The platform as sent, e.g. "ios"; null if never given.',
  })
  platform: string | null;

  @Field(() => Date, { description: 'When the token was last registered.' })
  updatedAt: Date;
}

@ObjectType({ description: 'Sessions of a profile in one app.' })
export class AppSummary {
  @Field(() => String, { nullable: true, description: 'Null for sessions sent without an app.' })
  appId: string | null;

  @Field(() => Int, { description: 'Sessions recorded in this app; saturates at 2147483647.' })
  sessionCount: number;

  @Field(() => Date, { description: 'Start of the earliest session in this app.' })
  firstSessionAt: Date;

  @Field(() => Date, { description: 'Start of the latest session in this app.' })
  lastSessionAt: Date;

  @Field(() => Int, {
    description:
      'Sum of endedAt − startedAt over the sessions (0 for a session without endedAt); saturates at 2147483647.',
  })
  totalSeconds: number;
}
