/** identifyUsers, the merge journal, and the fields that link results, merges and profiles. */
import 'reflect-metadata';
import {
  Arg,
  Authorized,
  Ctx,
  FieldResolver,
  ID,
  Int,
  Mutation,
  Query,
  Resolver,
  Root,
} from 'type-graphql';

import type { GatewayContext } from '../../http/context.js';
import type { IdentifyUsersResult } from '../identity-service.js';
import type { MergeRow, ProfileRow } from '../profile-query-service.js';
import { connectionType } from './connection.type.js';
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
      'Attaches aliases, emails and anon ids to external ids by the rules of Braze and Mixpanel.',
  })
  identifyUsers(
    @Arg('input', () => IdentifyUsersInput) input: IdentifyUsersInput,
    @Ctx() ctx: GatewayContext,
  ): Promise<IdentifyUsersResult> {
    return ctx.services.identity.identify(ctx.scope, input);
  }

  @Authorized('users:identify')
  @Mutation(() => Merge, {
    description:
      "Restores both profiles of a merge, if nothing has touched the survivor's merged fields since (else CONFLICT).",
  })
  undoMerge(@Arg('id', () => ID) id: string, @Ctx() ctx: GatewayContext): Promise<MergeRow> {
    return ctx.services.undo.undo(ctx.scope, id);
  }

  @Authorized('profiles:read')
  @Query(() => mergeConnection.Connection, {
    description: 'Merges, newest first.',
    complexity: page,
  })
  merges(
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('profileId', () => ID, {
      nullable: true,
      description: 'Merges this profile survived or was absorbed in.',
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
    description: 'The profile holding the identifier afterwards.',
  })
  profile(
    @Root() result: IdentifyResult,
    @Ctx() ctx: GatewayContext,
  ): Promise<ProfileRow | null> | null {
    return result.profileId ? ctx.loaders.profile.load(result.profileId) : null;
  }

  @FieldResolver(() => Merge, { nullable: true, description: 'Set for MERGED (not on dryRun).' })
  merge(
    @Root() result: IdentifyResult,
    @Ctx() ctx: GatewayContext,
  ): Promise<MergeRow | null> | null {
    return result.mergeId ? ctx.loaders.merge.load(result.mergeId) : null;
  }

  @FieldResolver(() => [Delivery], {
    description: 'Vendor deliveries of this change (none on dryRun).',
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
  @FieldResolver(() => Profile)
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
    description: 'What each vendor was told of this merge.',
    complexity: listOf(VENDOR_NAMES.length),
  })
  deliveries(@Root() merge: MergeRow, @Ctx() ctx: GatewayContext): Promise<OutboxRow[]> {
    return ctx.loaders.deliveries.load(merge.id);
  }
}

@Resolver(() => Profile)
export class ProfileMergesResolver {
  @FieldResolver(() => [Merge], {
    description: 'Merges this profile survived, newest first.',
    complexity: perProfile,
  })
  merges(@Root() profile: ProfileRow, @Ctx() ctx: GatewayContext): Promise<MergeRow[]> {
    return ctx.loaders.mergesSurvived.load(profile.id);
  }
}
