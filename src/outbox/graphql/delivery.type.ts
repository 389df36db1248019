/** Deliveries as clients read them. */
import 'reflect-metadata';
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';

export enum Vendor {
  MIXPANEL = 'MIXPANEL',
  BRAZE = 'BRAZE',
}
registerEnumType(Vendor, {
  name: 'Vendor',
  description: 'A tool the gateway sends identity changes and deletions to.',
  valuesConfig: {
    MIXPANEL: {
      description:
        'Mixpanel: receives events that link anonymous ids to external ids, and profile and data deletions.',
    },
    BRAZE: {
      description:
        'Braze: receives identifications (`/users/identify`), merges (`/users/merge`) and deletions (`/users/delete`).',
    },
  },
});

export enum DeliveryStatus {
  PENDING = 'PENDING',
  DELIVERED = 'DELIVERED',
  RETRYING = 'RETRYING',
  DEAD = 'DEAD',
  SKIPPED = 'SKIPPED',
}
registerEnumType(DeliveryStatus, {
  name: 'DeliveryStatus',
  description:
    'Where a delivery stands: PENDING and RETRYING are still to be sent; DELIVERED, DEAD and SKIPPED are final.',
  valuesConfig: {
    PENDING: {
      description:
        'Waiting for its first attempt (or being sent for the first time), or requeued by retryDeliveries.',
    },
    DELIVERED: { description: 'The vendor accepted it, at deliveredAt.' },
    RETRYING: {
      description:
        'An attempt failed or was throttled; another is due at nextAttemptAt (lastError says why).',
    },
    DEAD: {
      description:
        'Failed for good: a 4xx answer, a per-item error, or the attempt or age limit (12 attempts, 24 hours by default). Not sent again unless retryDeliveries requeues it; lastError says why.',
    },
    SKIPPED: {
      description:
        'Nothing was or will be sent: the vendor was no longer configured, cannot express the change (an undoMerge), or the person was forgotten (lastError "forgotten").',
    },
  },
});

@ObjectType({
  description:
    'One change sent (or to be sent) to one vendor, kept as the record of what the vendor was told. Finished deliveries are deleted after a retention period: by default 7 days, 30 for DEAD ones.',
})
export class Delivery {
  @Field(() => ID, {
    description: 'The delivery id, a number in a string, e.g. "1842"; retryDeliveries takes it.',
  })
  id: string;

  @Field(() => Vendor, { description: 'The vendor it is sent to.' })
  vendor: Vendor;

  @Field(() => DeliveryStatus, { description: 'Where it stands.' })
  status: DeliveryStatus;

  @Field(() => Int, {
    description:
      'Attempts made, the one in progress included; a throttled attempt is given back, and retryDeliveries resets it to 0.',
  })
  attempts: number;

  @Field(() => String, {
    nullable: true,
    description:
      'The last error met, e.g. "braze 401: Invalid API key" or "gave up after 12 attempts: braze 503"; kept after a later success, null if none.',
  })
  lastError: string | null;

  @Field(() => Date, {
    nullable: true,
    description: 'When the vendor accepted it; null unless DELIVERED.',
  })
  deliveredAt: Date | null;

  @Field(() => Date, {
    description: 'When it was written, in the same transaction as the change it carries.',
  })
  createdAt: Date;

  @Field(() => String, {
    description:
      'The same on every resend of this delivery, e.g. "<change id>:braze" or "<change id>:mixpanel"; a deletion\'s reads "<erasure id>:braze.users:0".',
  })
  dedupeKey: string;

  @Field(() => String, {
    description:
      'The kind of change: identity.identified.v1, identity.profiles_merged.v1, identity.merge_undone.v1 (always SKIPPED) or identity.erased.v1 (a deletion by forgetUsers).',
  })
  type: string;

  @Field(() => String, {
    nullable: true,
    description:
      "The vendor's id for the work it took on: Mixpanel's GDPR data deletion task id; null otherwise.",
  })
  vendorReference: string | null;

  @Field(() => Date, {
    nullable: true,
    description:
      'When the next attempt is due, while PENDING or RETRYING; null in any other status.',
  })
  nextAttemptAt: Date | null;
}
