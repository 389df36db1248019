/** Workspaces and API keys as the API shows them: vendor secrets and key hashes never appear. */
import 'reflect-metadata';
import { Field, ID, ObjectType } from 'type-graphql';

@ObjectType()
export class Workspace {
  @Field(() => ID)
  id: string;

  @Field(() => String)
  name: string;

  @Field(() => String)
  anonIdLabel: string;

  @Field(() => Boolean)
  mixpanelConfigured: boolean;

  @Field(() => Boolean)
  brazeConfigured: boolean;

  @Field(() => Date)
  createdAt: Date;
}

@ObjectType()
export class ApiKey {
  @Field(() => ID)
  id: string;

  @Field(() => String)
  name: string;

  @Field(() => [String])
  scopes: string[];

  @Field(() => Date)
  createdAt: Date;

  @Field(() => Date, { nullable: true })
  revokedAt: Date | null;
}

@ObjectType({ description: 'A new key; `key` is shown here once and never again.' })
export class CreatedApiKey {
  @Field(() => ApiKey)
  apiKey: ApiKey;

  @Field(() => String)
  key: string;
}

@ObjectType()
export class CreatedWorkspace {
  @Field(() => Workspace)
  workspace: Workspace;

  @Field(() => CreatedApiKey, { description: 'The first admin key of the workspace, shown once.' })
  apiKey: CreatedApiKey;
}
