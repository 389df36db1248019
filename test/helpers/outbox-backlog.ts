/**
 * Test-only SQL: a backlog of waiting deliveries written straight into the outbox, queued as the
 * gateway queues them (the first row of each (vendor, profile) is the head, the rest parked in
 * order), with change ids that increase in enqueue order as the gateway's UUID v7 ones do.
 * Profile p's k-th change identifies anon id `backlogAnonId(p, k)` for `user-<p>`.
 */
import { sql } from 'drizzle-orm';

import type { Db } from '../../src/db/client.js';

export interface BacklogShape {
  readonly workspaceId: string;
  readonly profiles: number;
  readonly perProfile: number;
  readonly vendors: readonly ('BRAZE' | 'MIXPANEL')[];
  /** Rows written per statement (a million rows go in slices). */
  readonly slice?: number;
  /** Distinguishes the external ids of several backlogs in one workspace. */
  readonly tag?: string;
}

/** A deterministic UUID-shaped anon id that names its profile and position. */
export function backlogAnonId(profile: number, k: number, tag = ''): string {
  const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
  const t = Buffer.from(tag).toString('hex').slice(0, 4).padStart(4, '0');
  return `${hex(profile, 8)}-${hex(k, 4)}-4000-8000-${t}${hex(profile, 8)}`;
}

export async function seedBacklog(db: Db, shape: BacklogShape): Promise<number> {
  const { workspaceId, profiles, perProfile } = shape;
  const vendors = `{${shape.vendors.join(',')}}`;
  const tag = shape.tag ?? '';
  const tagHex = Buffer.from(tag).toString('hex').slice(0, 4).padStart(4, '0');
  const slice = Math.max(
    1,
    Math.floor((shape.slice ?? 50_000) / (perProfile * shape.vendors.length)),
  );
  const now = new Date().toISOString();
  for (let from = 1; from <= profiles; from += slice) {
    const to = Math.min(profiles, from + slice - 1);
    await db.execute(sql`
      insert into outbox_messages (workspace_id, vendor, type, change_id, profile_id, payload,
        dedupe_key, status, parked, next_attempt_at, created_at, updated_at)
      select ${workspaceId}::uuid, v.vendor, 'identity.identified.v1', c.change_id::uuid, c.profile_id,
        jsonb_build_object(
          'type', 'identity.identified.v1', 'changeId', c.change_id, 'workspaceId', ${workspaceId}::text,
          'occurredAt', ${now}::text, 'externalId', 'user-' || ${tag}::text || p,
          'profileId', c.profile_id, 'absorbedProfileId', null, 'mergeBehavior', 'MERGE',
          'identifier', jsonb_build_object('kind', 'anonId', 'anonId', c.anon_id),
          'anonIdLabel', 'anon_id', 'anonIds', jsonb_build_array(c.anon_id),
          'aliases', '[]'::jsonb, 'survivorAliasLabels', '[]'::jsonb),
        c.change_id || ':' || lower(v.vendor), 'PENDING', k > 1,
        ${now}::timestamptz, ${now}::timestamptz, ${now}::timestamptz
      from generate_series(${from}::int, ${to}::int) as p
      cross join generate_series(1, ${perProfile}::int) as k
      cross join unnest(${vendors}::text[]) as v(vendor)
      cross join lateral (select
        md5(${workspaceId}::text || ${tag}::text || p)::uuid as profile_id,
        -- Time-ordered like the gateway's own (UUID v7) change ids: increasing in enqueue order.
        (substr(md5(${workspaceId}::text || ${tag}::text), 1, 8) || '-0000-7000-8000-'
          || lpad(to_hex((p - 1) * ${perProfile}::int + k), 12, '0'))::uuid::text as change_id,
        lpad(to_hex(p), 8, '0') || '-' || lpad(to_hex(k), 4, '0') || '-4000-8000-' || ${tagHex}::text
          || lpad(to_hex(p), 8, '0') as anon_id) as c
      order by p, k, v.vendor`);
  }
  return profiles * perProfile * shape.vendors.length;
}
