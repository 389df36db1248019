/** The deliveries query and retryDeliveries. */
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
import { AfterArg, connectionType, FirstArg } from '../../identity/graphql/connection.type.js';
import { MAX_RETRY_IDS, type OutboxRow } from '../delivery-service.js';
import { Delivery, DeliveryStatus, Vendor } from './delivery.type.js';
import { listOf, page } from '../../lib/query-cost.js';

const deliveryConnection = connectionType(Delivery, 'Delivery');
export const DeliveryConnectionResolver = deliveryConnection.ConnectionResolver;

@Resolver()
export class DeliveryResolver {
  @Authorized('profiles:read')
  @Query(() => deliveryConnection.Connection, {
    description:
      "The workspace's deliveries to Mixpanel and Braze, newest first, optionally filtered by vendor and status. Requires the scope `profiles:read`.",
    complexity: page,
  })
  deliveries(
    @FirstArg('deliveries')
    first: number,
    @AfterArg()
    after: string | null,
    @Arg('vendor', () => Vendor, {
      nullable: true,
      description: 'Only deliveries to this vendor.',
    })
    vendor: Vendor | null,
    @Arg('status', () => DeliveryStatus, {
      nullable: true,
      description: 'Only deliveries in this status, e.g. DEAD to find those to retry.',
    })
    status: DeliveryStatus | null,
    @Ctx() ctx: GatewayContext,
  ) {
    return ctx.services.deliveries.list(ctx.scope.workspaceId, { vendor, status }, first, after);
  }

  @Authorized('deliveries:write')
  @Mutation(() => [Delivery], {
    description:
      'Requeues DEAD and RETRYING deliveries as PENDING, due now, with attempts reset to 0 (they still go after earlier deliveries of the same profile); other statuses, and deliveries being sent at that moment, are returned unchanged. Requires the scope `deliveries:write`; returns the deliveries in id order.',
    complexity: listOf(MAX_RETRY_IDS),
  })
  retryDeliveries(
    @Arg('ids', () => [ID], {
      description:
        'Ids of 1 to 100 deliveries of the workspace, e.g. ["1842"]. An id of no delivery here is NOT_FOUND and requeues nothing.',
    })
    ids: string[],
    @Ctx() ctx: GatewayContext,
  ): Promise<OutboxRow[]> {
    return ctx.services.deliveries.retry(ctx.scope.workspaceId, ids);
  }
}

@Resolver(() => Delivery)
export class DeliveryFieldResolver {
  @FieldResolver(() => Date, {
    nullable: true,
    description:
      'When the next attempt is due, while PENDING or RETRYING; null in any other status.',
  })
  nextAttemptAt(@Root() row: OutboxRow): Date | null {
    return row.status === 'PENDING' || row.status === 'RETRYING' ? row.nextAttemptAt : null;
  }
}
