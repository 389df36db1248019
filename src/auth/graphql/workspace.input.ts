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
    "The ID-merge system of the Mixpanel project, which decides the form of the events that link an anonymous id to an external id. It must match the project's setting in Mixpanel.",
  valuesConfig: {
    ORIGINAL: {
      description:
        'Original ID Merge: each link is an `$identify` event with `$identified_id` (the external id) and `$anon_id` (the anonymous id as stored).',
    },
    SIMPLIFIED: {
      description:
        'Simplified ID Merge: each link is an `Identity Linked` event with `$device_id` (the anonymous id without its `$device:` prefix) and `$user_id` (the external id).',
    },
  },
});

@InputType({
  description:
    "A workspace's Mixpanel project. With it, identity changes that move anonymous ids are sent to Mixpanel, and forgetUsers deletes the person's Mixpanel profiles.",
})
export class MixpanelSettingsInput {
  @Field(() => String, {
    description:
      'The Mixpanel project token, sent with every event and profile deletion; must not be blank.',
  })
  token: string;

  @Field(() => String, {
    nullable: true,
    description:
      'Ingestion host, an http(s) URL without credentials; trailing `/` removed. Default https://api.mixpanel.com (US); EU residency: https://api-eu.mixpanel.com, India: https://api-in.mixpanel.com.',
  })
  apiHost?: string | null;

  @Field(() => MixpanelIdMerge, {
    nullable: true,
    defaultValue: MixpanelIdMerge.ORIGINAL,
    description:
      "The project's ID-merge system, which sets the form of the link events; ORIGINAL when omitted.",
  })
  idMerge?: MixpanelIdMerge | null;

  @Field(() => String, {
    nullable: true,
    description:
      'A Mixpanel service account as `user:secret`, e.g. "gateway.mp-service-account:...". Give it together with projectId; with both, events go to `/import` (checked per record) instead of `/track`.',
  })
  serviceAccount?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      'The Mixpanel project id, e.g. "3141592", used by `/import`. Give it together with serviceAccount, or neither.',
  })
  projectId?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      "OAuth token of Mixpanel's GDPR API; must not be blank. With it, forgetUsers also asks Mixpanel to delete the person's events; without it, only their profiles are deleted and receipts list MIXPANEL_EVENTS in notErased.",
  })
  gdprToken?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      "Host of Mixpanel's GDPR API, an http(s) URL without credentials. By default the residency host of apiHost: https://mixpanel.com, https://eu.mixpanel.com or https://in.mixpanel.com.",
  })
  gdprApiHost?: string | null;
}

@InputType({
  description:
    "A workspace's Braze workspace. With it, every identification and merge is sent to Braze, and forgetUsers deletes the person there.",
})
export class BrazeSettingsInput {
  @Field(() => String, {
    description:
      'A Braze REST API key with the `users.identify`, `users.merge` and `users.delete` permissions; must not be blank.',
  })
  apiKey: string;

  @Field(() => String, {
    description:
      "The Braze instance's REST URL, an http(s) URL without credentials, e.g. https://rest.fra-01.braze.eu; trailing `/` removed.",
  })
  restEndpoint: string;
}

@InputType({
  description:
    'A new workspace: its name, anonymous-id label and vendor settings. None of them can be changed afterwards; every problem is reported at once as BAD_USER_INPUT and nothing is created.',
})
export class CreateWorkspaceInput {
  @Field(() => String, {
    description:
      'A display name, e.g. "Acme EU": not blank, at most 200 characters, stored trimmed. Names need not be unique.',
  })
  name: string;

  @Field(() => MixpanelSettingsInput, {
    nullable: true,
    description: 'Mixpanel settings; omit them and nothing is sent to Mixpanel.',
  })
  mixpanel?: MixpanelSettingsInput | null;

  @Field(() => BrazeSettingsInput, {
    nullable: true,
    description: 'Braze settings; omit them and nothing is sent to Braze.',
  })
  braze?: BrazeSettingsInput | null;

  @Field(() => String, {
    nullable: true,
    defaultValue: 'anon_id',
    description:
      'The alias label under which anonymous ids are stored and sent to Braze: not blank, at most 255 characters.',
  })
  anonIdLabel?: string | null;
}

@InputType({ description: "A new API key for the caller's workspace." })
export class CreateApiKeyInput {
  @Field(() => String, {
    description:
      'A name to recognise the key by, e.g. "checkout-service": not blank, at most 200 characters, stored trimmed.',
  })
  name: string;

  @Field(() => [String], {
    description:
      'At least one of profiles:read, users:track, users:alias, users:identify, deliveries:write, users:delete, admin, root, e.g. ["users:track", "users:identify"]. A repeat counts once; a scope the calling key lacks is FORBIDDEN.',
  })
  scopes: string[];
}
