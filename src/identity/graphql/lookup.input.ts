/** Inputs that name a user or a profile. */
import 'reflect-metadata';
import { Field, ID, InputType } from 'type-graphql';

@InputType({
  description:
    'A user alias: a name under a label, as Braze\'s user_alias, e.g. { aliasLabel: "crm_id", aliasName: "C-1001" }. An alias under the workspace\'s anon-id label is an anonymous id.',
})
export class UserAliasInput {
  @Field(() => String, {
    description:
      'The identifier within its label, e.g. "C-1001": at most 255 characters, not a placeholder such as "null" or "anonymous". Under the anon-id label it must be a UUID v4, optionally "$device:"-prefixed.',
  })
  aliasName: string;

  @Field(() => String, {
    description:
      'The namespace of the alias, e.g. "crm_id"; not blank, at most 255 characters. The workspace\'s anon-id label (by default "anon_id") holds anonymous ids.',
  })
  aliasLabel: string;
}

@InputType({
  description:
    'Names one profile by exactly one of these fields, e.g. { externalId: "user-42" }. Zero or several fields, a value over 1024 characters or an id that is not a UUID is BAD_USER_INPUT.',
})
export class ProfileLookup {
  @Field(() => ID, {
    nullable: true,
    description:
      'The profile id, a UUID, e.g. "01a2082e-fd66-72e3-865d-40d375188573". The id of a profile absorbed by a merge finds the live profile it was merged into.',
  })
  id?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'The external id of an identified profile, e.g. "user-42".',
  })
  externalId?: string | null;

  @Field(() => UserAliasInput, {
    nullable: true,
    description: 'An alias the profile holds, e.g. { aliasLabel: "crm_id", aliasName: "C-1001" }.',
  })
  alias?: UserAliasInput | null;

  @Field(() => String, {
    nullable: true,
    description:
      'An email, compared trimmed and lower-cased, e.g. "ada@example.com". When several live profiles share it, identified profiles come first, then the most recently updated.',
  })
  email?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      'An anonymous id (an alias under the workspace\'s anon-id label), matched exactly as stored, e.g. "$device:3f2c1a9e-7b4d-4e21-9c3a-5d6e7f809a1b".',
  })
  anonId?: string | null;
}
