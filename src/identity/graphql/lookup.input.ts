/** Inputs that name a user or a profile. */
import 'reflect-metadata';
import { Field, ID, InputType } from 'type-graphql';

@InputType()
export class UserAliasInput {
  @Field(() => String)
  aliasName: string;

  @Field(() => String)
  aliasLabel: string;
}

@InputType({ description: 'Exactly one of the fields.' })
export class ProfileLookup {
  @Field(() => ID, { nullable: true })
  id?: string | null;

  @Field(() => String, { nullable: true })
  externalId?: string | null;

  @Field(() => UserAliasInput, { nullable: true })
  alias?: UserAliasInput | null;

  @Field(() => String, { nullable: true })
  email?: string | null;

  @Field(() => String, {
    nullable: true,
    description: "An alias under the workspace's anon-id label.",
  })
  anonId?: string | null;
}
