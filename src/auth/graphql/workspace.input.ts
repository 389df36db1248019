/** Inputs for creating workspaces and API keys. */
import 'reflect-metadata';
import { Field, InputType, registerEnumType } from 'type-graphql';

export enum MixpanelIdMerge {
  ORIGINAL = 'ORIGINAL',
  SIMPLIFIED = 'SIMPLIFIED',
}
registerEnumType(MixpanelIdMerge, {
  name: 'MixpanelIdMerge',
  description:
    "The Mixpanel project's ID-merge system: ORIGINAL ($identify) or SIMPLIFIED ($device_id/$user_id).",
});

@InputType()
export class MixpanelSettingsInput {
  @Field(() => String, { description: 'The project token.' })
  token: string;

  @Field(() => String, {
    nullable: true,
    description: 'Ingestion host, e.g. https://api-eu.mixpanel.com; US by default.',
  })
  apiHost?: string | null;

  @Field(() => MixpanelIdMerge, { nullable: true, defaultValue: MixpanelIdMerge.ORIGINAL })
  idMerge?: MixpanelIdMerge | null;

  @Field(() => String, {
    nullable: true,
    description: 'user:secret of a service account: deliveries use /import.',
  })
  serviceAccount?: string | null;

  @Field(() => String, { nullable: true, description: 'Required with serviceAccount.' })
  projectId?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      "OAuth token of Mixpanel's GDPR API: with it, forgetUsers also deletes the person's events.",
  })
  gdprToken?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      "Host of Mixpanel's GDPR API; by default the residency host of apiHost (https://mixpanel.com, https://eu.mixpanel.com or https://in.mixpanel.com).",
  })
  gdprApiHost?: string | null;
}

@InputType()
export class BrazeSettingsInput {
  @Field(() => String)
  apiKey: string;

  @Field(() => String, {
    description: "The instance's REST URL, e.g. https://rest.fra-01.braze.eu.",
  })
  restEndpoint: string;
}

@InputType()
export class CreateWorkspaceInput {
  @Field(() => String)
  name: string;

  @Field(() => MixpanelSettingsInput, { nullable: true })
  mixpanel?: MixpanelSettingsInput | null;

  @Field(() => BrazeSettingsInput, { nullable: true })
  braze?: BrazeSettingsInput | null;

  @Field(() => String, {
    nullable: true,
    defaultValue: 'anon_id',
    description: 'The alias label of anonymous ids.',
  })
  anonIdLabel?: string | null;
}

@InputType()
export class CreateApiKeyInput {
  @Field(() => String)
  name: string;

  @Field(() => [String], {
    description:
      'profiles:read, users:track, users:alias, users:identify, deliveries:write, users:delete, admin.',
  })
  scopes: string[];
}
