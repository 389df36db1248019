/**
 * The identifyUsers floor, a process of its own: the 50 merges of one identifyUsers call written
 * by hand on postgres.js, the rows the gateway writes for a MERGE and no others, each table
 * written once by a set-based statement over typed arrays. One transaction per call:
 *
 *   1. exclusive advisory locks on the 100 identifiers, sorted by hash, as the gateway takes them;
 *   2. the profiles holding them found, then locked FOR UPDATE in id order;
 *   3. the journal (with both prior states as JSON) and the outbox rows for both vendors (heads
 *      or parked, as the gateway queues them), both read from the state before the merge;
 *   4. survivors' fields combined and the absorbed profiles tombstoned; tombstones re-pointed;
 *      aliases and push tokens moved; event, daily, purchase and app summaries combined.
 *
 * Env: DATABASE_URL, WORKSPACE_ID, USERS, OFFSET, ANON_FROM, ANON_TO, plus floor-loop.ts's.
 */
import postgres from 'postgres';

import { identifierKey } from '../src/identity/engine/identifiers.js';
import { uuidv7 } from '../src/lib/uuid.js';
import { floorSettings, runFloor } from './floor-loop.js';
import { ANON_LABEL, externalId, poolAnonId, usersOfCall } from './names.js';
import { JOURNAL, OUTBOX, SUMMARIES, UPDATE_PROFILES } from './floor-identify-statements.js';

const env = process.env;
const settings = floorSettings(env);
const ws = env['WORKSPACE_ID']!;
const users = Number(env['USERS'] ?? 10_000);
const offset = Number(env['OFFSET'] ?? 0);
const anonTo = Number(env['ANON_TO'] ?? 0);
const SIZE = 50;
const db = postgres(env['DATABASE_URL']!, { max: settings.loops, onnotice: () => {} });

let anonNext = Number(env['ANON_FROM'] ?? 0);
let calls = 0;

async function identify(): Promise<number | null> {
  if (anonNext + SIZE > anonTo) return null;
  const ext = usersOfCall(calls++, SIZE, offset, users).map(externalId);
  const anon = ext.map(() => poolAnonId(anonNext++));
  const keys = ext.flatMap((x, i) => [
    identifierKey({ kind: 'externalId', externalId: x }),
    identifierKey({ kind: 'alias', aliasLabel: ANON_LABEL, aliasName: anon[i] }),
  ]);
  const now = new Date();
  return db.begin(async (tx) => {
    await tx`select count(pg_advisory_xact_lock(h)) from (
      select distinct hashtextextended(k, 0) as h from unnest(${keys.map((k) => `${ws}\u0001${k}`)}::text[]) as k
      order by 1) as s`;
    const pairs = await tx<{ s: string; a: string; x: string; n: string }[]>`
      select s.id::text as s, al.profile_id::text as a, n.x, n.n
      from unnest(${ext}::text[], ${anon}::text[]) as n(x, n)
      join profiles s on s.workspace_id = ${ws} and s.external_id = n.x and s.merged_into is null
      join aliases al on al.workspace_id = ${ws} and al.alias_label = ${ANON_LABEL}
        and al.alias_name = n.n`;
    const locked = await tx<
      { id: string; external_id: string | null; merged_into: string | null }[]
    >`
      select id::text, external_id, merged_into::text from profiles
      where workspace_id = ${ws} and id = any(${pairs.flatMap((p) => [p.s, p.a])}::uuid[])
      order by id for update`;
    // Only an unidentified, live profile merges into a live one (the engine's MERGED case).
    const byId = new Map(locked.map((p) => [p.id, p]));
    const merges = pairs.filter(
      (p) =>
        byId.get(p.s)?.merged_into === null &&
        byId.get(p.a)?.merged_into === null &&
        byId.get(p.a)?.external_id === null,
    );
    const m = {
      id: merges.map(() => uuidv7(now.getTime())),
      s: merges.map((p) => p.s),
      a: merges.map((p) => p.a),
      x: merges.map((p) => p.x),
      n: merges.map((p) => p.n),
    };
    const common = [ws, now, ANON_LABEL, m.id, m.s, m.a, m.x, m.n];
    await tx.unsafe(JOURNAL, common, { prepare: true });
    await tx.unsafe(OUTBOX, [...common, now.toISOString()], { prepare: true });
    await tx.unsafe(
      UPDATE_PROFILES,
      [
        ws,
        now,
        [...m.s, ...m.a],
        [...m.a, ...m.s],
        [...m.s.map(() => 'survivor'), ...m.a.map(() => 'absorbed')],
      ],
      { prepare: true },
    );
    await tx`update profiles p set merged_into = u.s
      from unnest(${m.a}::uuid[], ${m.s}::uuid[]) as u(a, s)
      where p.workspace_id = ${ws} and p.merged_into = u.a`;
    for (const table of ['aliases', 'push_tokens']) {
      await tx.unsafe(
        `update ${table} t set profile_id = u.s from unnest($2::uuid[], $3::uuid[]) as u(a, s)
         where t.workspace_id = $1 and t.profile_id = u.a`,
        [ws, m.a, m.s],
        { prepare: true },
      );
    }
    for (const statement of SUMMARIES)
      await tx.unsafe(statement, [ws, m.a, m.s], { prepare: true });
    return merges.length;
  });
}

await runFloor(settings, identify, () => anonNext);
await db.end({ timeout: 5 });
