/** identifyUsers, the merge journal, and the fields that link results, merges and profiles. */
import 'reflect-metadata';
import {
  Arg,
  Authorized,
  Ctx,
  FieldResolver,
  ID,
  Mutation,
  Query,
  Resolver,
  Root,
} from 'type-graphql';

import type { GatewayContext } from '../../http/context.js';
import type { IdentifyUsersResult } from '../identity-service.js';
import type { MergeRow, ProfileRow } from '../profile-query-service.js';
import { AfterArg, connectionType, FirstArg } from './connection.type.js';
import { IdentifyUsersInput } from './identify.input.js';
import { Delivery } from '../../outbox/graphql/delivery.type.js';
import type { OutboxRow } from '../../outbox/delivery-service.js';
import { IdentifyResult, IdentifyUsersPayload, Merge } from './identify.type.js';
import { Profile } from './profile.type.js';
import { listOf, page, perProfile } from '../../lib/query-cost.js';
import { VENDOR_NAMES } from '../../outbox/message.js';

const mergeConnection = connectionType(Merge, 'Merge');
export const MergeConnectionResolver = mergeConnection.ConnectionResolver;

@Resolver()
export class IdentifyResolver {
  @Authorized('users:identify')
  @Mutation(() => IdentifyUsersPayload, {
    description:
      'Attaches aliases, emails and anonymous ids to external ids by the rules of Braze and Mixpanel, merging unidentified profiles into identified ones in one transaction; each change is then sent to the configured vendors. Needs the users:identify scope.',
  })
  identifyUsers(
    @Arg('input', () => IdentifyUsersInput, {
      description: 'The items to decide: 1 to 50 identifiers across the three lists.',
    })
    input: IdentifyUsersInput,
    @Ctx() ctx: GatewayContext,
  ): Promise<IdentifyUsersResult> {
    return ctx.services.identity.identify(ctx.scope, input);
  }

  @Authorized('users:identify')
  @Mutation(() => Merge, {
    description:
      'Takes back one merge: the survivor gives back what the merge gave it and the absorbed profile is live again; returns the merge with undoneAt set. CONFLICT, with nothing changed, if a field in changedFields changed since, the merge was undone already or either profile was merged again; needs the users:identify scope.',
  })
  undoMerge(
    @Arg('id', () => ID, {
      description:
        'The merge id (Merge.id, a UUID), e.g. "01a2082f-0c3e-7b52-a1d4-2e9f5c7b8a60"; an id that names no merge of the workspace is NOT_FOUND.',
    })
    id: string,
    @Ctx() ctx: GatewayContext,
  ): Promise<MergeRow> {
    return ctx.services.undo.undo(ctx.scope, id);
  }

  @Authorized('profiles:read')
  @Query(() => mergeConnection.Connection, {
    description:
      "The workspace's merge journal, newest first, undone merges included. Needs the profiles:read scope.",
    complexity: page,
  })
  merges(
    @FirstArg('merges')
    first: number,
    @AfterArg()
    after: string | null,
    @Arg('profileId', () => ID, {
      nullable: true,
      description:
        'Only the merges this profile survived or was absorbed in; a profile id (a UUID), e.g. "01a2082e-fd66-72e3-865d-40d375188573".',
    })
    profileId: string | null,
    @Ctx() ctx: GatewayContext,
  ) {
    return ctx.services.profiles.listMerges(ctx.scope, profileId, { first, after });
  }
}

@Resolver(() => IdentifyResult)
export class IdentifyResultResolver {
  @FieldResolver(() => Profile, {
    nullable: true,
    description:
      'The profile holding the identifier afterwards (on dryRun, as it is now). For REJECTED identified_by_other_external_id or too_many_identifiers, the profile in the way; null for NOT_FOUND, AMBIGUOUS and other rejections.',
  })
  profile(
    @Root() result: IdentifyResult,
    @Ctx() ctx: GatewayContext,
  ): Promise<ProfileRow | null> | null {
    return result.profileId ? ctx.loaders.profile.load(result.profileId) : null;
  }

  @FieldResolver(() => Merge, {
    nullable: true,
    description: 'The journal entry of the merge, for MERGED; null otherwise and on dryRun.',
  })
  merge(
    @Root() result: IdentifyResult,
    @Ctx() ctx: GatewayContext,
  ): Promise<MergeRow | null> | null {
    return result.mergeId ? ctx.loaders.merge.load(result.mergeId) : null;
  }

  @FieldResolver(() => [Delivery], {
    description:
      'The vendor deliveries of this change, for MERGED and IDENTIFIED; empty otherwise and on dryRun.',
    complexity: listOf(VENDOR_NAMES.length),
  })
  deliveries(
    @Root() result: IdentifyResult,
    @Ctx() ctx: GatewayContext,
  ): Promise<OutboxRow[]> | [] {
    return result.changeId ? ctx.loaders.deliveries.load(result.changeId) : [];
  }
}

@Resolver(() => Merge)
export class MergeResolver {
  @FieldResolver(() => Profile, {
    description: 'The identified profile that absorbed the other and holds externalId.',
  })
  async survivor(@Root() merge: MergeRow, @Ctx() ctx: GatewayContext): Promise<ProfileRow> {
    const profile = await ctx.loaders.profile.load(merge.survivorId);
    if (!profile) throw new Error(`merge ${merge.id} names a missing survivor`);
    return profile;
  }

  @FieldResolver(() => ID)
  absorbedProfileId(@Root() merge: MergeRow): string {
    return merge.absorbedId;
  }

  @FieldResolver(() => [Delivery], {
    description:
      'What each vendor was told of this merge, followed by the SKIPPED deliveries that record its undo.',
    complexity: listOf(VENDOR_NAMES.length),
  })
  deliveries(@Root() merge: MergeRow, @Ctx() ctx: GatewayContext): Promise<OutboxRow[]> {
    return ctx.loaders.deliveries.load(merge.id);
  }
}

@Resolver(() => Profile)
export class ProfileMergesResolver {
  @FieldResolver(() => [Merge], {
    description: 'The merges this profile survived, newest first, undone ones included.',
    complexity: perProfile,
  })
  merges(@Root() profile: ProfileRow, @Ctx() ctx: GatewayContext): Promise<MergeRow[]> {
    return ctx.loaders.mergesSurvived.load(profile.id);
  }
}
