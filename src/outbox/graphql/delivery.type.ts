/** Deliveries as clients read them. */
import 'reflect-metadata';
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';

export enum Vendor {
  MIXPANEL = 'MIXPANEL',
  BRAZE = 'BRAZE',
}
registerEnumType(Vendor, { name: 'Vendor' });

export enum DeliveryStatus {
  PENDING = 'PENDING',
  DELIVERED = 'DELIVERED',
  RETRYING = 'RETRYING',
  DEAD = 'DEAD',
  SKIPPED = 'SKIPPED',
}
registerEnumType(DeliveryStatus, {
  name: 'DeliveryStatus',
  valuesConfig: {
    PENDING: { description: 'Waiting for its first attempt.' },
    DELIVERED: { description: 'The vendor accepted it.' },
    RETRYING: {
      description: 'An attempt failed or was throttled; another is scheduled (lastError says why).',
    },
    DEAD: {
      description: 'It will not be sent again without retryDeliveries (lastError says why).',
    },
    SKIPPED: {
      description: 'Nothing to send: the vendor cannot express it or is no longer configured.',
    },
  },
});

@ObjectType({ description: 'One change sent (or to be sent) to one vendor.' })
export class Delivery {
  @Field(() => ID)
  id: string;

  @Field(() => Vendor)
  vendor: Vendor;

  @Field(() => DeliveryStatus)
  status: DeliveryStatus;

  @Field(() => Int)
  attempts: number;

  @Field(() => String, { nullable: true })
  lastError: string | null;

  @Field(() => Date, { nullable: true })
  deliveredAt: Date | null;

  @Field(() => Date)
  createdAt: Date;

  @Field(() => String, { description: 'Stable across retries; duplicates carry the same key.' })
  dedupeKey: string;

  @Field(() => String, {
    description:
      'The message type, e.g. identity.profiles_merged.v1 (identity.erased.v1: a deletion).',
  })
  type: string;

  @Field(() => String, {
    nullable: true,
    description: "The vendor's id for the work it took on: Mixpanel's GDPR deletion task id.",
  })
  vendorReference: string | null;

  @Field(() => Date, {
    nullable: true,
    description: 'When the next attempt is due (while waiting).',
  })
  nextAttemptAt: Date | null;
}
