/** Workspaces and API keys as the API shows them: vendor secrets and key hashes never appear. */
import 'reflect-metadata';
import { Field, ID, ObjectType } from 'type-graphql';

@ObjectType({
  description:
    'A tenant: it holds its own profiles, aliases, merges, deliveries and erasures, its anonymous-id label and its vendor settings. Every API key acts inside exactly one workspace; vendor secrets are never readable.',
})
export class Workspace {
  @Field(() => ID, { description: 'The workspace id, a UUID.' })
  id: string;

  @Field(() => String, {
    description:
      'Its display name, e.g. "Acme EU"; the workspace made on first start is named "default".',
  })
  name: string;

  @Field(() => String, {
    description:
      'The alias label under which anonymous ids are stored and sent to Braze, e.g. "anon_id".',
  })
  anonIdLabel: string;

  @Field(() => Boolean, {
    description: 'True when Mixpanel settings are set, so that changes are delivered to Mixpanel.',
  })
  mixpanelConfigured: boolean;

  @Field(() => Boolean, {
    description: 'True when Braze settings are set, so that changes are delivered to Braze.',
  })
  brazeConfigured: boolean;

  @Field(() => Date, { description: 'When the workspace was created.' })
  createdAt: Date;
}

@ObjectType({
  description:
    'An API key as it can be seen after its creation: its name and scopes, never the key itself (only its SHA-256 hash is stored).',
})
export class ApiKey {
  @Field(() => ID, { description: 'The key id, a UUID; revokeApiKey takes it.' })
  id: string;

  @Field(() => String, {
    description:
      'The name given at creation, e.g. "checkout-service"; a workspace\'s first key is named "admin", the first-start key "bootstrap".',
  })
  name: string;

  @Field(() => [String], {
    description:
      'What the key may do, e.g. ["users:track", "users:identify"]. `admin` implies every scope but `root` within the workspace.',
  })
  scopes: string[];

  @Field(() => Date, { description: 'When the key was created.' })
  createdAt: Date;

  @Field(() => Date, {
    nullable: true,
    description: 'When the key was first revoked; null while it can be used.',
  })
  revokedAt: Date | null;
}

@ObjectType({ description: 'A new key; `key` is shown here once and never again.' })
export class CreatedApiKey {
  @Field(() => ApiKey, {
    description: "The new key's id, name and scopes: all that can be seen of it later.",
  })
  apiKey: ApiKey;

  @Field(() => String, {
    description:
      'The key itself, `igw_` followed by 43 URL-safe characters (e.g. "igw_..."), to send as `Authorization: Bearer <key>`. Store it now: it cannot be read again.',
  })
  key: string;
}

@ObjectType({ description: 'A new workspace and its first key.' })
export class CreatedWorkspace {
  @Field(() => Workspace, { description: 'The new workspace; it starts empty.' })
  workspace: Workspace;

  @Field(() => CreatedApiKey, {
    description:
      'The first key of the workspace, named "admin" with the scope `admin`, shown once. It is the only way into the new workspace.',
  })
  apiKey: CreatedApiKey;
}
