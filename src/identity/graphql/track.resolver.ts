/** Mutations that record users and their identifiers. */
import 'reflect-metadata';
import { Arg, Authorized, Ctx, Mutation, Resolver } from 'type-graphql';

import type { GatewayContext } from '../../http/context.js';
import type { TrackUsersResult } from '../track-service.js';
import { CreateAliasesInput, TrackUsersInput } from './track.input.js';
import { CreateAliasesPayload, TrackUsersPayload } from './track.type.js';

@Resolver()
export class TrackResolver {
  @Authorized('users:track')
  @Mutation(() => TrackUsersPayload, {
    description:
      'Records attributes, events, purchases, sessions and push tokens; unknown users are created.',
  })
  trackUsers(
    @Arg('input', () => TrackUsersInput) input: TrackUsersInput,
    @Ctx() ctx: GatewayContext,
  ): Promise<TrackUsersResult> {
    return ctx.services.track.track(ctx.scope, input);
  }

  @Authorized('users:alias')
  @Mutation(() => CreateAliasesPayload, {
    description:
      'Adds aliases to identified profiles, or creates alias-only profiles (Braze /users/alias/new).',
  })
  async createAliases(
    @Arg('input', () => CreateAliasesInput) input: CreateAliasesInput,
    @Ctx() ctx: GatewayContext,
  ): Promise<CreateAliasesPayload> {
    const { aliases, rejected } = await ctx.services.aliases.createAliases(
      ctx.scope,
      input.userAliases,
    );
    return { aliasesProcessed: aliases.length, message: 'success', aliases, rejected };
  }
}
