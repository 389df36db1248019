/** identifyUsers inputs, named as Braze's /users/identify and Mixpanel's $identify name them. */
import 'reflect-metadata';
import { Field, InputType, registerEnumType } from 'type-graphql';

import { UserAliasInput } from './lookup.input.js';

export enum MergeBehavior {
  NONE = 'NONE',
  MERGE = 'MERGE',
}
registerEnumType(MergeBehavior, {
  name: 'MergeBehavior',
  description:
    'MERGE combines the absorbed profile into the survivor; NONE moves only identifiers and push tokens.',
});

export enum EmailPrioritization {
  IDENTIFIED = 'IDENTIFIED',
  UNIDENTIFIED = 'UNIDENTIFIED',
  MOST_RECENTLY_UPDATED = 'MOST_RECENTLY_UPDATED',
  LEAST_RECENTLY_UPDATED = 'LEAST_RECENTLY_UPDATED',
}
registerEnumType(EmailPrioritization, { name: 'EmailPrioritization' });

@InputType()
export class AliasToIdentifyInput {
  @Field(() => String)
  externalId: string;

  @Field(() => UserAliasInput)
  userAlias: UserAliasInput;
}

@InputType()
export class EmailToIdentifyInput {
  @Field(() => String)
  externalId: string;

  @Field(() => String)
  email: string;

  @Field(() => [EmailPrioritization], {
    description: 'Ordered tie-breakers when several profiles hold the email; not empty.',
  })
  prioritization: EmailPrioritization[];
}

@InputType({ description: "Mixpanel's $identify: $identified_id and $anon_id." })
export class AnonIdToIdentifyInput {
  @Field(() => String)
  externalId: string;

  @Field(() => String, { description: 'A UUID v4, optionally "$device:"-prefixed.' })
  anonId: string;
}

@InputType({ description: 'At most 50 identifiers across the three lists.' })
export class IdentifyUsersInput {
  @Field(() => [AliasToIdentifyInput], { nullable: true })
  aliasesToIdentify?: AliasToIdentifyInput[] | null;

  @Field(() => [EmailToIdentifyInput], { nullable: true })
  emailsToIdentify?: EmailToIdentifyInput[] | null;

  @Field(() => [AnonIdToIdentifyInput], { nullable: true })
  anonIdsToIdentify?: AnonIdToIdentifyInput[] | null;

  @Field(() => MergeBehavior, { nullable: true, defaultValue: MergeBehavior.MERGE })
  mergeBehavior?: MergeBehavior | null;

  @Field(() => String, {
    nullable: true,
    description: 'A repeat with the same key returns the first result and writes nothing.',
  })
  idempotencyKey?: string | null;

  @Field(() => Boolean, {
    nullable: true,
    defaultValue: false,
    description: 'Return the would-be results and write nothing.',
  })
  dryRun?: boolean | null;
}
