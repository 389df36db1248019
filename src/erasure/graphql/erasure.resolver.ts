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
import { AfterArg, connectionType, FirstArg } from '../../identity/graphql/connection.type.js';
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
      'Forgets people: erases them here at once, queues their deletion at Braze and Mixpanel, keeps a receipt of fingerprints, and (with suppress) refuses their identifiers from now on. Requires the scope `users:delete` (implied by `admin`).',
  })
  forgetUsers(
    @Arg('input', () => ForgetUsersInput, {
      description: 'The people to forget (1 to 50) and the options.',
    })
    input: ForgetUsersInput,
    @Ctx() ctx: GatewayContext,
  ): Promise<ForgetResult> {
    return ctx.services.erasure.forget(ctx.scope, input);
  }

  @Authorized('users:delete')
  @Mutation(() => Int, {
    description:
      'Takes identifiers off the suppression list, so that they may be tracked and identified again; returns how many were on it. Requires the scope `users:delete`.',
  })
  liftSuppression(
    @Arg('users', () => [ProfileLookup], {
      description:
        '1 to 50 identifiers, each given again as exactly one of externalId, alias, email or anonId, e.g. { externalId: "user-42" }. A profile id names no identifier: BAD_USER_INPUT.',
    })
    users: ProfileLookup[],
    @Ctx() ctx: GatewayContext,
  ): Promise<number> {
    return ctx.services.erasure.liftSuppression(ctx.scope, users);
  }

  @Authorized('users:delete')
  @Query(() => erasureConnection.Connection, {
    description:
      "The workspace's erasure receipts, newest first. Requires the scope `users:delete`.",
    complexity: page,
  })
  erasures(
    @FirstArg('receipts')
    first: number,
    @AfterArg()
    after: string | null,
    @Ctx() ctx: GatewayContext,
  ): Promise<Page<ErasureReceipt>> {
    return ctx.services.erasure.list(ctx.scope, { first, after });
  }

  @Authorized('users:delete')
  @Query(() => Erasure, {
    nullable: true,
    description:
      'One erasure receipt, or null when the workspace has none with this id. Requires the scope `users:delete`.',
  })
  erasure(
    @Arg('id', () => ID, {
      description:
        'The receipt id (Erasure.id, a UUID), as forgetUsers returned it; one that is not a UUID is BAD_USER_INPUT.',
    })
    id: string,
    @Ctx() ctx: GatewayContext,
  ): Promise<ErasureReceipt | null> {
    return ctx.services.erasure.erasure(ctx.scope, id);
  }
}

@Resolver(() => Erasure)
export class ErasureFieldResolver {
  @FieldResolver(() => [Delivery], {
    description:
      'The vendor deletions (type identity.erased.v1): Braze /users/delete, Mixpanel profile deletion and (with a GDPR token) data deletion. Empty when there was nothing to send, and on dryRun.',
  })
  deliveries(@Root() erasure: ErasureReceipt, @Ctx() ctx: GatewayContext): Promise<OutboxRow[]> {
    return ctx.loaders.deliveries.load(erasure.id);
  }
}
