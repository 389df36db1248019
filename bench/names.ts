/**
 * The names of seeded users, shared by the seed (which writes them with SQL) and the load
 * processes (which derive them again instead of being handed millions of ids). Anonymous ids are
 * UUID v4 in form but come from an md5 of a counter, so both sides compute the same ones; the SQL
 * and the TypeScript below must stay in step.
 */
import { createHash } from 'node:crypto';

export const ANON_LABEL = 'anon_id';
export const CRM_LABEL = 'crm_id';

export function externalId(i: number): string {
  return `user-${i}`;
}

/** Anon id of the i-th anonymous profile of the pool that identifyUsers consumes. */
export function poolAnonId(i: number): string {
  return uuidV4From(`anon-${i}`);
}

/** Anon id that the i-th identified profile already held before the benchmark. */
export function deviceAnonId(i: number): string {
  return uuidV4From(`device-${i}`);
}

function uuidV4From(seed: string): string {
  const h = createHash('md5').update(seed).digest('hex');
  const variant = '89ab'[parseInt(h[16], 16) & 3];
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20)}`;
}

/** The same derivation in SQL, for `seed` text such as `'anon-' || i`. */
export function uuidV4Sql(seed: string): string {
  const h = `md5(${seed})`;
  return `(substr(${h}, 1, 8) || '-' || substr(${h}, 9, 4) || '-4' || substr(${h}, 14, 3) || '-'
    || substr('89ab89ab89ab89ab', strpos('0123456789abcdef', substr(${h}, 17, 1)), 1)
    || substr(${h}, 18, 3) || '-' || substr(${h}, 21, 12))`;
}

/**
 * The survivors of one identify call or the users of one track call: `size` consecutive users
 * from a running counter, so a call never names a user twice and the calls in flight at once
 * name different users.
 */
export function usersOfCall(call: number, size: number, offset: number, users: number): number[] {
  return Array.from({ length: size }, (_, k) => (offset + call * size + k) % users);
}
