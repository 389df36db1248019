/** forgetUsers, liftSuppression, and the receipts (scope users:delete, implied by admin). */
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
import { connectionType } from '../../identity/graphql/connection.type.js';
import { ProfileLookup } from '../../identity/graphql/lookup.input.js';
import type { Page } from '../../lib/paging.js';
import { page } from '../../lib/query-cost.js';
import type { OutboxRow } from '../../outbox/delivery-service.js';
import { Delivery } from '../../outbox/graphql/delivery.type.js';
import type { ErasureReceipt, ForgetResult } from '../erasure-service.js';
import { Erasure, ForgetUsersInput, ForgetUsersPayload } from './erasure.type.js';

const erasureConnection = connectionType(Erasure, 'Erasure');
export const ErasureConnectionResolver = erasureConnection.ConnectionResolver;

@Resolver()
export class ErasureResolver {
  @Authorized('users:delete')
  @Mutation(() => ForgetUsersPayload, {
    description:
      'Forgets people: erases them here at once, queues their deletion at Braze and Mixpanel, keeps a receipt of fingerprints, and (with suppress) refuses their identifiers from now on.',
  })
  forgetUsers(
    @Arg('input', () => ForgetUsersInput) input: ForgetUsersInput,
    @Ctx() ctx: GatewayContext,
  ): Promise<ForgetResult> {
    return ctx.services.erasure.forget(ctx.scope, input);
  }

  @Authorized('users:delete')
  @Mutation(() => Int, {
    description:
      'Takes identifiers off the suppression list (given as identifiers again, not profile ids); returns how many were on it.',
  })
  liftSuppression(
    @Arg('users', () => [ProfileLookup]) users: ProfileLookup[],
    @Ctx() ctx: GatewayContext,
  ): Promise<number> {
    return ctx.services.erasure.liftSuppression(ctx.scope, users);
  }

  @Authorized('users:delete')
  @Query(() => erasureConnection.Connection, {
    description: 'Erasure receipts, newest first.',
    complexity: page,
  })
  erasures(
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GatewayContext,
  ): Promise<Page<ErasureReceipt>> {
    return ctx.services.erasure.list(ctx.scope, { first, after });
  }

  @Authorized('users:delete')
  @Query(() => Erasure, { nullable: true })
  erasure(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: GatewayContext,
  ): Promise<ErasureReceipt | null> {
    return ctx.services.erasure.erasure(ctx.scope, id);
  }
}

@Resolver(() => Erasure)
export class ErasureFieldResolver {
  @FieldResolver(() => [Delivery], {
    description:
      'The vendor deletions: Braze /users/delete, Mixpanel profile deletion and (with a GDPR token) data deletion.',
  })
  deliveries(@Root() erasure: ErasureReceipt, @Ctx() ctx: GatewayContext): Promise<OutboxRow[]> {
    return ctx.loaders.deliveries.load(erasure.id);
  }
}
