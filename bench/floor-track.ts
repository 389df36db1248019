/**
 * The trackUsers floor, a process of its own: what the gateway's trackUsers of 75 events for 75
 * known users must do at least, written by hand on postgres.js. One transaction per call: the
 * same shared advisory locks on the users' identifiers, then one statement per table: the
 * profiles row-locked in id order and touched, the event summaries and the daily counts upserted.
 *
 * Env: DATABASE_URL, WORKSPACE_ID, USERS, OFFSET, plus the loop settings of floor-loop.ts.
 */
import postgres from 'postgres';

import { identifierKey } from '../src/identity/engine/identifiers.js';
import { floorSettings, runFloor } from './floor-loop.js';
import { externalId, usersOfCall } from './names.js';

const env = process.env;
const settings = floorSettings(env);
const ws = env['WORKSPACE_ID']!;
const users = Number(env['USERS'] ?? 10_000);
const offset = Number(env['OFFSET'] ?? 0);
const SIZE = 75;
const db = postgres(env['DATABASE_URL']!, { max: settings.loops, onnotice: () => {} });

let calls = 0;

async function track(): Promise<number> {
  const ids = usersOfCall(calls++, SIZE, offset, users).map(externalId);
  const time = new Date();
  const keys = ids.map((x) => `${ws}\u0001${identifierKey({ kind: 'externalId', externalId: x })}`);
  return db.begin(async (tx) => {
    await tx`select count(pg_advisory_xact_lock_shared(h)) from (
      select distinct hashtextextended(k, 0) as h from unnest(${keys}::text[]) as k order by 1) as s`;
    const profiles = await tx<{ id: string }[]>`
      update profiles p set updated_at = ${time}
      from (select id from profiles where workspace_id = ${ws} and external_id = any(${ids}::text[])
            order by id for no key update) as l
      where p.workspace_id = ${ws} and p.id = l.id
      returning p.id::text`;
    const profileIds = profiles.map((p) => p.id);
    await tx`
      insert into event_summaries (workspace_id, profile_id, name, count, first_at, last_at)
      select ${ws}, id, 'page_view', 1, ${time}, ${time} from unnest(${profileIds}::uuid[]) as id
      on conflict (workspace_id, profile_id, name) do update set
        count = event_summaries.count + excluded.count,
        first_at = least(event_summaries.first_at, excluded.first_at),
        last_at = greatest(event_summaries.last_at, excluded.last_at)`;
    await tx`
      insert into event_daily_counts (workspace_id, profile_id, name, day, count)
      select ${ws}, id, 'page_view', (${time}::timestamptz at time zone 'UTC')::date, 1
      from unnest(${profileIds}::uuid[]) as id
      on conflict (workspace_id, profile_id, name, day) do update set
        count = event_daily_counts.count + excluded.count`;
    return profileIds.length;
  });
}

await runFloor(settings, track);
await db.end({ timeout: 5 });
