/** The deliveries query and retryDeliveries. */
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
import { MAX_RETRY_IDS, type OutboxRow } from '../delivery-service.js';
import { Delivery, DeliveryStatus, Vendor } from './delivery.type.js';
import { listOf, page } from '../../lib/query-cost.js';

const deliveryConnection = connectionType(Delivery, 'Delivery');
export const DeliveryConnectionResolver = deliveryConnection.ConnectionResolver;

@Resolver()
export class DeliveryResolver {
  @Authorized('profiles:read')
  @Query(() => deliveryConnection.Connection, {
    description: 'Deliveries, newest first.',
    complexity: page,
  })
  deliveries(
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('vendor', () => Vendor, { nullable: true }) vendor: Vendor | null,
    @Arg('status', () => DeliveryStatus, { nullable: true }) status: DeliveryStatus | null,
    @Ctx() ctx: GatewayContext,
  ) {
    return ctx.services.deliveries.list(ctx.scope.workspaceId, { vendor, status }, first, after);
  }

  @Authorized('deliveries:write')
  @Mutation(() => [Delivery], {
    description: 'Makes DEAD or RETRYING deliveries due now with a fresh attempt budget.',
    complexity: listOf(MAX_RETRY_IDS),
  })
  retryDeliveries(
    @Arg('ids', () => [ID]) ids: string[],
    @Ctx() ctx: GatewayContext,
  ): Promise<OutboxRow[]> {
    return ctx.services.deliveries.retry(ctx.scope.workspaceId, ids);
  }
}

@Resolver(() => Delivery)
export class DeliveryFieldResolver {
  @FieldResolver(() => Date, {
    nullable: true,
    description: 'When the next attempt is due; null once final.',
  })
  nextAttemptAt(@Root() row: OutboxRow): Date | null {
    return row.status === 'PENDING' || row.status === 'RETRYING' ? row.nextAttemptAt : null;
  }
}
