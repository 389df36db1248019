import { describe, expect, it } from 'vitest';

import { analyse, check, EXCEPTIONS, type Rule } from '../helpers/citus-lint.js';

const rules = (text: string, params: unknown[] = []) =>
  check(text, params, new Map()).map((v) => v.rule);

const WS = '0190e8a4-0000-7000-8000-000000000001';
const OTHER = '0190e8a4-0000-7000-8000-000000000002';

describe('the Citus statement lint', () => {
  it.each<[string, string, unknown[]]>([
    [
      'a drizzle select pinned by a parameter',
      'select "id" from "profiles" where ("profiles"."workspace_id" = $1 and "profiles"."id" = $2)',
      [WS, 'p'],
    ],
    [
      'a claim: an UPDATE over a locking subquery, both pinned to the same workspace',
      `update "outbox_messages" set "attempts" = "outbox_messages"."attempts" + 1
       from (select "id" from "outbox_messages" "d" where ("d"."workspace_id" = $1 and "d"."vendor" = $2)
             order by "d"."next_attempt_at" limit $3 for update skip locked) "due"
       where ("outbox_messages"."workspace_id" = $4 and "outbox_messages"."id" = "due"."id")`,
      [WS, 'BRAZE', 10, WS],
    ],
    [
      'a correlated subquery joined on workspace_id to a pinned outer block',
      `select p.id from profiles p where p.workspace_id = $1 and not exists (
         select 1 from aliases a where a.workspace_id = p.workspace_id and a.profile_id = p.id)`,
      [WS],
    ],
    [
      'times cast from parameters and typed arrays in an UPDATE',
      `update profiles p set updated_at = $1::timestamptz, last_seen = v.t
       from unnest($2::uuid[], $3::timestamptz[]) as v(id, t)
       where p.workspace_id = $4 and p.id = v.id`,
      [new Date(), [], [], WS],
    ],
    [
      'an INSERT that lists workspace_id',
      `insert into aliases (workspace_id, alias_label, alias_name, profile_id)
       select $1::uuid, v.l, v.n, v.p from unnest($2::text[], $3::text[], $4::uuid[]) as v(l, n, p)`,
      [WS, [], [], []],
    ],
    [
      'a reference table read across workspaces, locked',
      'select "id" from "api_keys" where "api_keys"."key_hash" = $1 for update',
      ['h'],
    ],
  ])('accepts %s', (_name, text, params) => {
    expect(rules(text, params)).toEqual([]);
  });

  it.each<[string, string, unknown[], Rule[]]>([
    [
      'a distributed table read without a workspace',
      'select count(*) from outbox_messages where status = $1',
      ['PENDING'],
      ['workspace'],
    ],
    [
      'workspace_id = any(...): several workspaces at once',
      'select id from profiles where workspace_id = any($1)',
      [[WS, OTHER]],
      ['workspace'],
    ],
    [
      'a pinned outer block over an unpinned subquery',
      `delete from aliases where workspace_id = $1 and profile_id in (
         select id from profiles where merged_into is not null)`,
      [WS],
      ['workspace'],
    ],
    [
      'a claim across workspaces (Citus refuses FOR UPDATE on it)',
      `select id from outbox_messages where status in ('PENDING', 'RETRYING')
       order by next_attempt_at limit 500 for update skip locked`,
      [],
      ['lock'],
    ],
    [
      'a statement that pins two different workspaces',
      `select a.id from aliases a join profiles p on p.id = a.profile_id
       where a.workspace_id = $1 and p.workspace_id = $2`,
      [WS, OTHER],
      ['one-workspace'],
    ],
    [
      'a locking statement that pins two different workspaces',
      `select a.id from aliases a join profiles p on p.id = a.profile_id
       where a.workspace_id = $1 and p.workspace_id = $2 for update`,
      [WS, OTHER],
      ['lock'],
    ],
    [
      'an INSERT without workspace_id',
      'insert into merges (id, behavior) values ($1, $2)',
      ['m', 'MERGE'],
      ['workspace'],
    ],
    [
      'a JSON text cast to timestamptz in an UPDATE (the statement Citus refused)',
      `update profiles p set last_seen = (e->>'lastSeen')::timestamptz
       from jsonb_array_elements($1::jsonb) as e
       where p.workspace_id = $2 and p.id = (e->>'id')::uuid`,
      ['[]', WS],
      ['stable-in-write'],
    ],
    [
      'now() in an UPDATE',
      'update outbox_messages set updated_at = now() where workspace_id = $1 and id = $2',
      [WS, 1],
      ['stable-in-write'],
    ],
    [
      'a column cast to date in a DELETE',
      'delete from event_daily_counts where workspace_id = $1 and day::date < $2',
      [WS, '2026-01-01'],
      ['stable-in-write'],
    ],
    [
      "a cast in an upsert's DO UPDATE",
      `insert into vendor_pauses (workspace_id, vendor, paused_until) values ($1, $2, $3)
       on conflict (workspace_id, vendor) do update set paused_until = excluded.reason::timestamptz`,
      [WS, 'BRAZE', new Date()],
      ['stable-in-write'],
    ],
  ])('refuses %s', (_name, text, params, expected) => {
    expect(rules(text, params)).toEqual(expected);
  });

  it('knows the same parameter pinned twice is one workspace', () => {
    const text = `select 1 from aliases a where a.workspace_id = $1 and exists (
      select 1 from profiles p where p.workspace_id = $1 and p.id = a.profile_id)`;
    expect(analyse(text).pinned).toEqual(['$1']);
    expect(rules(text, [WS])).toEqual([]);
  });

  it('lets the listed exceptions through, each with its reason', () => {
    const gauge = `select vendor, status, count(*)::int as n from outbox_messages
            where status in ('PENDING', 'RETRYING') group by vendor, status`;
    expect(analyse(gauge).violations.map((v) => v.rule)).toEqual(['workspace']);
    expect(rules(gauge)).toEqual([]);
    for (const e of EXCEPTIONS) expect(e.reason.length).toBeGreaterThan(40);
  });
});
