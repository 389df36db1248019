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
      'Records attributes, events, purchases, sessions and push tokens in one transaction, creating unknown users; objects naming a forgotten user are dropped and counted in suppressed. Needs the users:track scope.',
  })
  trackUsers(
    @Arg('input', () => TrackUsersInput, {
      description: 'What to record: up to 75 objects of each kind.',
    })
    input: TrackUsersInput,
    @Ctx() ctx: GatewayContext,
  ): Promise<TrackUsersResult> {
    return ctx.services.track.track(ctx.scope, input);
  }

  @Authorized('users:alias')
  @Mutation(() => CreateAliasesPayload, {
    description:
      'Adds aliases to the profiles of external ids, or creates alias-only profiles (Braze /users/alias/new); re-sending an existing alias changes nothing. An alias held by another profile is CONFLICT and nothing is written; needs the users:alias scope.',
  })
  async createAliases(
    @Arg('input', () => CreateAliasesInput, {
      description: 'The aliases to create, 1 to 50.',
    })
    input: CreateAliasesInput,
    @Ctx() ctx: GatewayContext,
  ): Promise<CreateAliasesPayload> {
    const { aliases, rejected } = await ctx.services.aliases.createAliases(
      ctx.scope,
      input.userAliases,
    );
    return { aliasesProcessed: aliases.length, message: 'success', aliases, rejected };
  }
}
