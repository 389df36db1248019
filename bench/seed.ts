/**
 * Seeds a benchmark database with SQL, writing exactly the rows the gateway itself writes for
 * tracked users (profiles, aliases, event summaries with their daily counts, purchase summaries),
 * so that a million users take a minute rather than an hour of trackUsers calls.
 *
 * - Identified user i: `user-<i>`, two aliases (an anon id under `anon_id`, `crm-<i>` under
 *   `crm_id`), three event summaries whose daily counts add up to their counts, one purchase
 *   summary.
 * - Anonymous user j of the pool: an alias-only profile holding `poolAnonId(j)` under `anon_id`,
 *   with one `page_view`; identifyUsers consumes these, one per merge, never the same twice.
 *
 * Ids are UUID v7 in creation order, as the gateway makes them, derived from i or j.
 *
 * With `history: 'year'` the identified users are a year old and were active every day: created
 * 365 days ago, ten aliases (eight more devices' anon ids), and each event summary's first
 * occurrence a year back, with a daily count for each day of the read window up to the activity
 * day (28 days; the gateway deletes older days in the writes that touch a profile, so that is
 * all a daily user holds), instead of a new user's single day.
 */
import { randomUUID } from 'node:crypto';

import { sql, type SQL } from 'drizzle-orm';

import { AuthService } from '../src/auth/auth-service.js';
import type { Db } from '../src/db/client.js';
import { ANON_LABEL, CRM_LABEL, uuidV4Sql } from './names.js';

const DAY_MS = 86_400_000;
const SLICE = 100_000;
const EVENT_NAMES = ['add_to_cart', 'page_view', 'signup'];

/** A workspace whose merges are queued for both vendors (nothing sends them during the bench). */
export async function createBenchWorkspace(db: Db): Promise<{ workspaceId: string; key: string }> {
  const { workspace, key } = await new AuthService(db).createWorkspace({
    name: `bench-${randomUUID()}`,
    braze: { apiKey: 'bench', restEndpoint: 'http://127.0.0.1:9' },
    mixpanel: {
      token: 'bench',
      apiHost: 'http://127.0.0.1:9',
      idMerge: 'ORIGINAL',
      serviceAccount: null,
      projectId: null,
    },
  });
  return { workspaceId: workspace.id, key: key.key };
}

/** Two days ago, midnight UTC: every seeded event falls on that day, inside the 30-day window. */
function activityDay(): Date {
  return new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS - 2 * DAY_MS);
}

/** A UUID v7 for `ms`, its random bits from an md5 of `seed` (SQL text). */
function uuidV7Sql(ms: string, seed: string): SQL {
  return sql.raw(`(select (substr(t, 1, 8) || '-' || substr(t, 9, 4) || '-7' || substr(r, 1, 3) || '-'
    || substr('89ab89ab89ab89ab', strpos('0123456789abcdef', substr(r, 4, 1)), 1)
    || substr(r, 5, 3) || '-' || substr(r, 8, 12))::uuid
    from (select lpad(to_hex((${ms})::bigint), 12, '0') as t, md5(${seed}) as r) as v)`);
}

export type History = 'new' | 'year';

export async function seedIdentified(
  db: Db,
  ws: string,
  from: number,
  to: number,
  history: History = 'new',
): Promise<void> {
  const day = activityDay();
  const aged = history === 'year';
  const createdMs = day.getTime() - (aged ? 365 : 18) * DAY_MS;
  // Days with a daily count, counted back from the activity day.
  const days = aged ? 28 : 1;
  const devices = aged ? 9 : 1;
  const at = (hours: number) => new Date(day.getTime() + hours * 3_600_000).toISOString();
  for (let lo = from; lo < to; lo += SLICE) {
    const hi = Math.min(to, lo + SLICE) - 1;
    const rows = sql`generate_series(${lo}::int, ${hi}::int) as i
      cross join lateral (select ${uuidV7Sql(`${createdMs} + i`, `'p-' || i`)} as pid) as p`;
    await db.execute(sql`
      insert into profiles (workspace_id, id, external_id, created_at, updated_at)
      select ${ws}::uuid, pid, 'user-' || i, to_timestamp((${createdMs}::bigint + i) / 1000.0),
        ${at(10)}::timestamptz
      from ${rows}`);
    await db.execute(sql`
      insert into aliases (workspace_id, alias_label, alias_name, profile_id, created_at)
      select ${ws}::uuid, a.label, a.name, pid, to_timestamp((${createdMs}::bigint + i) / 1000.0)
      from ${rows}
      cross join lateral (
        select ${ANON_LABEL}::text as label,
          ${sql.raw(uuidV4Sql(`'device-' || i || case when d = 0 then '' else '-' || d end`))} as name
        from generate_series(0, ${devices - 1}::int) as d
        union all select ${CRM_LABEL}::text, 'crm-' || i) as a(label, name)`);
    // c occurrences on each of `days` days, which the summary counts (for a year-old user, its
    // first occurrence lies a year back: the days before the window are no longer kept).
    const events = sql`${rows}
      cross join unnest(${`{${EVENT_NAMES.join(',')}}`}::text[]) with ordinality as n(name, k)
      cross join lateral (select 1 + (i + k::int) % 5 as c,
        ${at(8)}::timestamptz + (i % 3600) * interval '1 second' as f) as x`;
    await db.execute(sql`
      insert into event_summaries (workspace_id, profile_id, name, count, first_at, last_at)
      select ${ws}::uuid, pid, n.name, c * ${days}::int,
        f - ${aged ? 364 : 0}::int * interval '1 day', f + (c - 1) * interval '1 minute'
      from ${events}`);
    await db.execute(sql`
      insert into event_daily_counts (workspace_id, profile_id, name, day, count)
      select ${ws}::uuid, pid, n.name, ${at(0).slice(0, 10)}::date - back, c
      from ${events} cross join generate_series(0, ${days - 1}::int) as back`);
    await db.execute(sql`
      insert into purchase_summaries (workspace_id, profile_id, count, total_cents, first_at, last_at)
      select ${ws}::uuid, pid, c, c * 999, f, f + (c - 1) * interval '1 minute'
      from ${rows}
      cross join lateral (select 1 + i % 3 as c, ${at(9)}::timestamptz as f) as x`);
  }
}

/** Anonymous profiles [from, to) of the pool. */
export async function seedAnonymous(db: Db, ws: string, from: number, to: number): Promise<void> {
  const createdMs = activityDay().getTime() + 6 * 3_600_000;
  for (let lo = from; lo < to; lo += SLICE) {
    const hi = Math.min(to, lo + SLICE) - 1;
    const rows = sql`generate_series(${lo}::int, ${hi}::int) as j
      cross join lateral (select ${uuidV7Sql(`${createdMs} + j`, `'a-' || j`)} as pid,
        to_timestamp((${createdMs}::bigint + j) / 1000.0) as t) as p`;
    await db.execute(sql`
      insert into profiles (workspace_id, id, external_id, created_at, updated_at)
      select ${ws}::uuid, pid, null, t, t from ${rows}`);
    await db.execute(sql`
      insert into aliases (workspace_id, alias_label, alias_name, profile_id, created_at)
      select ${ws}::uuid, ${ANON_LABEL}, ${sql.raw(uuidV4Sql(`'anon-' || j`))}, pid, t
      from ${rows}`);
    await db.execute(sql`
      insert into event_summaries (workspace_id, profile_id, name, count, first_at, last_at)
      select ${ws}::uuid, pid, 'page_view', 1, t, t from ${rows}`);
    await db.execute(sql`
      insert into event_daily_counts (workspace_id, profile_id, name, day, count)
      select ${ws}::uuid, pid, 'page_view', (t at time zone 'UTC')::date, 1 from ${rows}`);
  }
}

/** Fresh statistics, as autovacuum would have gathered them on a database that grew slowly. */
export async function analyze(db: Db): Promise<void> {
  // VACUUM too: a table just filled in bulk is otherwise vacuumed by autovacuum (insert
  // threshold) while the first figure is being measured.
  await db.execute(sql`vacuum analyze`);
}
