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
    "What a merge does with the data of the absorbed (unidentified) profile, as Braze's merge_behavior. MERGE combines it into the survivor; NONE moves only identifiers and push tokens.",
  valuesConfig: {
    NONE: {
      description:
        'Only aliases, anonymous ids and push tokens move to the survivor; attributes, events, purchases and sessions stay with the absorbed profile.',
    },
    MERGE: {
      description:
        'Identifiers and push tokens move, attributes and custom attribute keys the survivor lacks are copied (its own values win), and events, purchases and sessions add up.',
    },
  },
});

export enum EmailPrioritization {
  IDENTIFIED = 'IDENTIFIED',
  UNIDENTIFIED = 'UNIDENTIFIED',
  MOST_RECENTLY_UPDATED = 'MOST_RECENTLY_UPDATED',
  LEAST_RECENTLY_UPDATED = 'LEAST_RECENTLY_UPDATED',
}
registerEnumType(EmailPrioritization, {
  name: 'EmailPrioritization',
  description:
    "One step of the ordered tie-break among the live profiles that share an email, as Braze's prioritization. A step that matches none of the remaining profiles is passed over.",
  valuesConfig: {
    IDENTIFIED: {
      description: 'Keep the profiles that have an external id. Not allowed with UNIDENTIFIED.',
    },
    UNIDENTIFIED: {
      description: 'Keep the profiles without an external id. Not allowed with IDENTIFIED.',
    },
    MOST_RECENTLY_UPDATED: {
      description:
        'Keep the profile with the latest updatedAt. Not allowed with LEAST_RECENTLY_UPDATED.',
    },
    LEAST_RECENTLY_UPDATED: {
      description:
        'Keep the profile with the earliest updatedAt. Not allowed with MOST_RECENTLY_UPDATED.',
    },
  },
});

@InputType({
  description: "Attach an alias to an external id, as one entry of Braze's aliases_to_identify.",
})
export class AliasToIdentifyInput {
  @Field(() => String, {
    description:
      'The external id the alias should belong to, e.g. "user-42"; at most 255 characters. A placeholder such as "null" or "0" is REJECTED (invalid_external_id).',
  })
  externalId: string;

  @Field(() => UserAliasInput, {
    description:
      'The alias to identify, e.g. { aliasLabel: "crm_id", aliasName: "C-1001" }. Under the workspace\'s anon-id label it is treated as an anonymous id.',
  })
  userAlias: UserAliasInput;
}

@InputType({
  description:
    "Attach the profile holding an email to an external id, as one entry of Braze's emails_to_identify.",
})
export class EmailToIdentifyInput {
  @Field(() => String, {
    description:
      'The external id the profile should belong to, e.g. "user-7"; at most 255 characters. A placeholder such as "null" or "0" is REJECTED (invalid_external_id).',
  })
  externalId: string;

  @Field(() => String, {
    description:
      'The email to look for among live profiles, compared trimmed and lower-cased, e.g. "ada@example.com"; at most 255 characters.',
  })
  email: string;

  @Field(() => [EmailPrioritization], {
    description:
      'Ordered tie-breakers when several live profiles hold the email, e.g. [UNIDENTIFIED, MOST_RECENTLY_UPDATED]. Not empty, no repeats, no contradictory pair (else BAD_USER_INPUT); a tie left at the end is AMBIGUOUS.',
  })
  prioritization: EmailPrioritization[];
}

@InputType({
  description:
    "Attach an anonymous id to an external id, as Mixpanel's $identify ($identified_id and $anon_id).",
})
export class AnonIdToIdentifyInput {
  @Field(() => String, {
    description:
      'The external id ($identified_id), e.g. "user-42"; at most 255 characters, not a placeholder, and not equal to anonId.',
  })
  externalId: string;

  @Field(() => String, {
    description:
      'The anonymous id ($anon_id), matched exactly as stored: a UUID v4, optionally "$device:"-prefixed, e.g. "$device:3f2c1a9e-7b4d-4e21-9c3a-5d6e7f809a1b" (else REJECTED, anon_id_not_uuid_v4).',
  })
  anonId: string;
}

@InputType({
  description:
    'Identifiers to attach to external ids: 1 to 50 items across the three lists (else BAD_USER_INPUT, nothing written). Items are decided in order, aliases, then emails, then anonymous ids, each seeing what the earlier ones did.',
})
export class IdentifyUsersInput {
  @Field(() => [AliasToIdentifyInput], {
    nullable: true,
    description: "Aliases to attach to external ids (Braze's aliases_to_identify).",
  })
  aliasesToIdentify?: AliasToIdentifyInput[] | null;

  @Field(() => [EmailToIdentifyInput], {
    nullable: true,
    description: "Emails whose profile to attach to external ids (Braze's emails_to_identify).",
  })
  emailsToIdentify?: EmailToIdentifyInput[] | null;

  @Field(() => [AnonIdToIdentifyInput], {
    nullable: true,
    description: "Anonymous ids to attach to external ids (Mixpanel's $identify).",
  })
  anonIdsToIdentify?: AnonIdToIdentifyInput[] | null;

  @Field(() => MergeBehavior, {
    nullable: true,
    defaultValue: MergeBehavior.MERGE,
    description: 'What a merge does with the data of the absorbed profile (default MERGE).',
  })
  mergeBehavior?: MergeBehavior | null;

  @Field(() => String, {
    nullable: true,
    description:
      'Your key for this request, e.g. "signup-batch-2025-06-02" (not blank, at most 255 characters). For 24 hours by default, a repeat with the same key and items returns the first result and writes nothing, and the same key with other items is CONFLICT.',
  })
  idempotencyKey?: string | null;

  @Field(() => Boolean, {
    nullable: true,
    defaultValue: false,
    description:
      'When true, returns the would-be results against the current data and writes nothing, sends nothing to vendors and ignores idempotencyKey.',
  })
  dryRun?: boolean | null;
}
