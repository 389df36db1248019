/**
 * Forgetting a person: everything the gateway holds about them, deleted or scrubbed in one
 * transaction, with a receipt that proves it without naming them (see erasure.sql.ts).
 *
 * A person is the live profile a lookup resolves to, with the profiles merged into it (their
 * tombstones) and every identifier they hold: external id, email, aliases and anon ids. Deleted:
 * those profiles and their aliases, event, daily, purchase, push-token and app-session rows, and
 * every merge of the journal that involves one of them (both prior states of a merge hold the
 * person's values, so the merge goes whole; the `merges` query never shows a merge whose survivor
 * is gone). Scrubbed: the payloads and profile ids of the person's deliveries (their queues' rows
 * and the rows of the removed merges), which keep their ids, vendors, statuses and times; a delivery still
 * waiting becomes SKIPPED with the error `forgotten` and is never sent. Removed: idempotency
 * records whose stored answer names one of the person's identifiers or profiles.
 *
 * Concurrency: the person's identifiers are locked exclusively, as identifyUsers locks the
 * identifiers it moves, and then their profile rows; a tracking or identification naming one of
 * them either commits first (and is erased with the rest) or runs after and finds no one.
 */
import { randomBytes } from 'node:crypto';

import { and, desc, eq, inArray, lt, sql } from 'drizzle-orm';

import { workspaces } from '../auth/auth.sql.js';
import type { Db, Queryable, Tx } from '../db/client.js';
import { rowsOf } from '../db/rows.js';
import { inTransaction, RaceLostError } from '../db/transaction.js';
import {
  identifierKey,
  MAX_IDENTIFIER_LENGTH,
  normalizeEmail,
  type IdentifierRef,
} from '../identity/engine/identifiers.js';
import {
  lookupProblems,
  type ProfileLookupValue,
  type ProfileQueryService,
} from '../identity/profile-query-service.js';
import { IdentityRepository } from '../identity/store/identity-repository.js';
import { textArray, uuidArray } from '../identity/store/sql-helpers.js';
import { TrackRepository } from '../identity/store/track-repository.js';
import type { WorkspaceScope } from '../identity/track-service.js';
import { textProblem } from '../identity/user-ref.js';
import { AppError, badInput, conflict, type InputProblem } from '../lib/app-error.js';
import {
  badCursor,
  checkCursor,
  checkFirst,
  toPage,
  type Page,
  type PageRequest,
} from '../lib/paging.js';
import { unstorableText } from '../lib/text.js';
import { isUuid, uuidv7 } from '../lib/uuid.js';
import { insertQueued } from '../outbox/enqueue.js';
import { promoteNext } from '../outbox/queue-repository.js';
import { VENDOR_NAMES } from '../outbox/message.js';
import { erasures, type ErasureGap, type ErasureStatusValue } from './erasure.sql.js';
import { fingerprintOf } from './suppression.js';
import { vendorDeletions, type VendorDeletions } from './vendor-deletions.js';
import { notifyChanges } from '../live/changes.js';

export const MAX_FORGET_USERS = 50;
export const MAX_REASON_LENGTH = 200;

export interface ForgetRequest {
  readonly users: readonly ProfileLookupValue[];
  readonly reason?: string | null;
  readonly suppress?: boolean | null;
  readonly dryRun?: boolean | null;
  /** A repeat with the same key and request answers as the first did (see identifyUsers). */
  readonly idempotencyKey?: string | null;
}

export interface ErasureReceipt {
  readonly id: string;
  readonly status: ErasureStatusValue;
  readonly requestedAt: Date;
  readonly completedAt: Date | null;
  readonly reason: string | null;
  readonly identifierCount: number;
  readonly fingerprints: readonly string[];
  /** What the erasure could not reach (see ERASURE_GAPS). */
  readonly notErased: readonly ErasureGap[];
}

export type ForgetOutcome = 'FORGOTTEN' | 'NOT_FOUND' | 'REJECTED';

export interface ForgetItemResult {
  readonly index: number;
  readonly outcome: ForgetOutcome;
  /** Why a lookup was rejected. */
  readonly reason: string | null;
  /** The receipt (for a dry run, the one that would be written). */
  readonly erasure: ErasureReceipt | null;
}

export interface ForgetResult {
  readonly dryRun: boolean;
  readonly results: readonly ForgetItemResult[];
}

/** A person as found under lock: their profiles and the identifiers they hold. */
interface Person {
  readonly profileIds: readonly string[];
  readonly externalIds: readonly string[];
  readonly emails: readonly string[];
  readonly aliases: readonly { readonly aliasLabel: string; readonly aliasName: string }[];
}

export class ErasureService {
  private readonly locks = new TrackRepository();

  private readonly journal = new IdentityRepository();
  private readonly clock: () => Date;
  private readonly queued: (workspaceId: string) => void;
  private readonly idempotencyTtlMs: number;

  constructor(
    private readonly db: Db,
    /** Resolves each lookup as `profile(by:)` does. */
    private readonly profiles: Pick<ProfileQueryService, 'findProfile'>,
    options: ErasureOptions = {},
  ) {
    this.clock = options.clock ?? (() => new Date());
    this.queued = options.queued ?? (() => {});
    this.idempotencyTtlMs = options.idempotencyTtlMs ?? 86_400_000;
  }

  async forget(scope: WorkspaceScope, request: ForgetRequest): Promise<ForgetResult> {
    const problems: InputProblem[] = [];
    if (request.users.length < 1 || request.users.length > MAX_FORGET_USERS) {
      problems.push({ path: 'input.users', message: `give 1 to ${MAX_FORGET_USERS} users` });
    }
    const reason = request.reason ?? null;
    if (reason !== null) {
      const p =
        [...reason].length > MAX_REASON_LENGTH
          ? `is longer than ${MAX_REASON_LENGTH} characters`
          : unstorableText(reason);
      if (p) problems.push({ path: 'input.reason', message: p });
    }
    const idempotencyKey = request.idempotencyKey ?? null;
    if (idempotencyKey !== null) {
      const p =
        idempotencyKey.trim() === ''
          ? 'must not be blank'
          : textProblem(idempotencyKey, MAX_IDENTIFIER_LENGTH);
      if (p) problems.push({ path: 'input.idempotencyKey', message: p });
    }
    if (problems.length > 0) throw badInput(problems);
    const suppress = request.suppress ?? true;
    const dryRun = request.dryRun ?? false;
    const ws = scope.workspaceId;

    // Each lookup to its live profile, or why not; a bad lookup rejects only its own item.
    const targets = await Promise.all(
      request.users.map(async (by) => {
        try {
          const profile = await this.profiles.findProfile(scope, by);
          return { profileId: profile?.id ?? null, named: namedKey(scope, by), problem: null };
        } catch (error) {
          if (error instanceof AppError && error.code === 'BAD_USER_INPUT') {
            return { profileId: null, named: null, problem: error.message };
          }
          throw error;
        }
      }),
    );
    const secret = await this.secretOf(ws, !dryRun);
    const fingerprint = (key: string) => fingerprintOf(secret ?? PREVIEW_KEY, key);
    // Keyed like the fingerprints: the stored hash of a request cannot be reversed by guessing.
    const requestHash = fingerprint(
      JSON.stringify({ users: request.users, reason, suppress, op: 'forgetUsers' }),
    );
    const idempotent = idempotencyKey !== null && !dryRun;
    let enqueued = 0;

    const work = async (tx: Tx): Promise<ForgetItemResult[]> => {
      const now = this.clock();
      if (idempotent) {
        await this.locks.lockIdentifiers(tx, ws, [`i\u0001${idempotencyKey}`], 'exclusive');
        const stored = await this.journal.findIdempotent(tx, ws, idempotencyKey);
        if (stored && stored.createdAt.getTime() > now.getTime() - this.idempotencyTtlMs) {
          if (stored.requestHash !== requestHash || stored.operation !== 'forgetUsers') {
            throw conflict('idempotencyKey was used before with a different request');
          }
          return this.replay(tx, ws, stored.result as StoredForget);
        }
      }
      const results: ForgetItemResult[] = [];
      const [vendors] = await tx
        .select({ mixpanel: workspaces.mixpanel, braze: workspaces.braze })
        .from(workspaces)
        .where(eq(workspaces.id, ws));
      enqueued = 0;
      const done = new Map<string, ErasureReceipt>();
      /** Profiles erased by this call: one notice for all of them, sent at commit. */
      const forgotten: string[] = [];
      for (const [index, target] of targets.entries()) {
        if (target.problem !== null) {
          results.push({ index, outcome: 'REJECTED', reason: target.problem, erasure: null });
          continue;
        }
        let profileId = target.profileId;
        if (profileId === null && target.named !== null) {
          // Nobody held it when looked up: lock it, so that nobody can take it until this
          // commits (and is suppressed), and look again for someone who took it meanwhile.
          await this.locks.lockIdentifiers(tx, ws, [target.named], 'exclusive');
          profileId = await this.holderOf(tx, ws, namedRef(scope, request.users[index])!);
        }
        const already = profileId === null ? undefined : done.get(profileId);
        if (already) {
          // The same person named twice in one call: one erasure.
          results.push({ index, outcome: 'FORGOTTEN', reason: null, erasure: already });
          continue;
        }
        const person = profileId === null ? null : await this.lockPerson(tx, ws, profileId);
        const keys = person ? personKeys(person) : [];
        const id = uuidv7(now.getTime());
        const deletions: VendorDeletions = person
          ? vendorDeletions(
              { id, workspaceId: ws, now },
              { ...person, anonIdLabel: scope.anonIdLabel },
              { mixpanel: vendors?.mixpanel ?? null, braze: vendors?.braze ?? null },
            )
          : { rows: [], gaps: [] };
        // Done here at once; PENDING until the vendors confirmed their deletions.
        const pending = deletions.rows.length > 0;
        const receipt: ErasureReceipt = {
          id,
          status: pending ? 'PENDING' : 'COMPLETED',
          requestedAt: now,
          completedAt: pending ? null : now,
          reason,
          identifierCount: keys.length,
          fingerprints: keys.map(fingerprint).sort(),
          notErased: deletions.gaps,
        };
        if (!dryRun) {
          if (person) {
            await this.erase(tx, ws, person, now);
            forgotten.push(...person.profileIds);
          }
          await this.record(tx, ws, receipt);
          await insertQueued(tx, deletions.rows);
          enqueued += deletions.rows.length;
          const suppressed = person ? keys : target.named ? [target.named] : [];
          if (suppress) await this.suppress(tx, ws, receipt.id, suppressed.map(fingerprint), now);
        }
        if (person && profileId) done.set(profileId, receipt);
        results.push({
          index,
          outcome: person ? 'FORGOTTEN' : 'NOT_FOUND',
          reason: null,
          erasure: receipt,
        });
      }
      await notifyChanges(tx, { workspaceId: ws, profiles: [], merges: [], forgotten });
      if (idempotent) {
        const stored: StoredForget = {
          results: results.map((r) => ({ ...r, erasure: r.erasure?.id ?? null })),
        };
        await this.journal.saveIdempotent(tx, {
          workspaceId: ws,
          key: idempotencyKey,
          operation: 'forgetUsers',
          requestHash,
          result: stored,
          createdAt: now,
        });
      }
      return results;
    };
    // A dry run only reads (and locks while it reads): it commits nothing.
    const results = await inTransaction(this.db, work);
    if (enqueued > 0) this.queued(ws);
    return { dryRun, results };
  }

  /**
   * The live profile holding an identifier, read in the transaction (after its lock), by the
   * rules of profile(by:): of several live profiles sharing an email, identified ones first, then
   * the freshest.
   */
  private async holderOf(tx: Tx, ws: string, ref: IdentifierRef): Promise<string | null> {
    const query =
      ref.kind === 'externalId'
        ? sql`select id from profiles where workspace_id = ${ws} and external_id = ${ref.externalId}`
        : ref.kind === 'email'
          ? sql`select id from profiles where workspace_id = ${ws}
              and email = ${normalizeEmail(ref.email)} and merged_into is null
              order by external_id is null, updated_at desc, id desc limit 1`
          : sql`select profile_id as id from aliases where workspace_id = ${ws}
              and alias_label = ${ref.aliasLabel} and alias_name = ${ref.aliasName}`;
    return rowsOf<{ id: string }>(await tx.execute(query))[0]?.id ?? null;
  }

  /** A repeated request's answer: its results, with their receipts as they are now. */
  private async replay(tx: Tx, ws: string, stored: StoredForget): Promise<ForgetItemResult[]> {
    const ids = stored.results.map((r) => r.erasure).filter((id): id is string => id !== null);
    const receipts = new Map((await this.receipts(tx, ws, ids)).map((r) => [r.id, r]));
    return stored.results.map((r) => ({
      ...r,
      erasure: r.erasure === null ? null : (receipts.get(r.erasure) ?? null),
    }));
  }

  /** One receipt, or null when the workspace has none of that id. */
  async erasure(scope: WorkspaceScope, id: string): Promise<ErasureReceipt | null> {
    if (!isUuid(id)) throw badInput([{ path: 'id', message: 'is not an erasure id' }]);
    const [receipt] = await this.receipts(this.db, scope.workspaceId, [id]);
    return receipt ?? null;
  }

  /** Receipts newest first. */
  async list(scope: WorkspaceScope, page: PageRequest): Promise<Page<ErasureReceipt>> {
    const first = checkFirst(page.first);
    const [beforeId] = page.after != null ? checkCursor(page.after, 1) : [null];
    if (beforeId != null && !isUuid(beforeId)) throw badCursor();
    const ws = scope.workspaceId;
    const rows = await this.db
      .select(RECEIPT)
      .from(erasures)
      .where(
        and(eq(erasures.workspaceId, ws), beforeId == null ? undefined : lt(erasures.id, beforeId)),
      )
      .orderBy(desc(erasures.id))
      .limit(first + 1);
    return toPage(
      rows,
      { first, after: page.after },
      (r) => [r.id],
      () => this.db.$count(erasures, eq(erasures.workspaceId, ws)),
    );
  }

  /**
   * Takes identifiers off the suppression list: they may be tracked and identified again.
   * Returns how many were on it. A profile id names no identifier, so it cannot be lifted.
   */
  async liftSuppression(
    scope: WorkspaceScope,
    users: readonly ProfileLookupValue[],
  ): Promise<number> {
    const problems: InputProblem[] = [];
    if (users.length < 1 || users.length > MAX_FORGET_USERS) {
      problems.push({ path: 'users', message: `give 1 to ${MAX_FORGET_USERS} users` });
    }
    const keys: string[] = [];
    users.slice(0, MAX_FORGET_USERS).forEach((by, i) => {
      const wrong = lookupProblems(by, `users[${i}]`);
      const key = namedKey(scope, by);
      if (wrong.length > 0) problems.push(...wrong);
      else if (key === null) {
        problems.push({ path: `users[${i}].id`, message: 'a profile id names no identifier' });
      } else keys.push(key);
    });
    if (problems.length > 0) throw badInput(problems);
    const secret = await this.secretOf(scope.workspaceId, false);
    if (secret === null) return 0;
    const lifted = rowsOf<unknown>(
      await this.db.execute(sql`
        delete from suppressions where workspace_id = ${scope.workspaceId}
          and fingerprint = any(${textArray(keys.map((k) => fingerprintOf(secret, k)))})
        returning fingerprint`),
    );
    return lifted.length;
  }

  private async receipts(
    q: Queryable,
    ws: string,
    ids: readonly string[],
  ): Promise<ErasureReceipt[]> {
    if (ids.length === 0) return [];
    return q
      .select(RECEIPT)
      .from(erasures)
      .where(and(eq(erasures.workspaceId, ws), inArray(erasures.id, [...ids])));
  }

  /**
   * The workspace's fingerprint key, made on its first erasure (every process then reads the
   * same); null when it has none and `make` is false (a dry run changes nothing).
   */
  private async secretOf(ws: string, make: boolean): Promise<string | null> {
    const rows = rowsOf<{ erasure_secret: string | null }>(
      await this.db.execute(
        make
          ? sql`update workspaces set erasure_secret = coalesce(erasure_secret, ${randomBytes(32).toString('hex')})
              where id = ${ws} returning erasure_secret`
          : sql`select erasure_secret from workspaces where id = ${ws}`,
      ),
    );
    if (rows.length === 0) throw new AppError('NOT_FOUND', 'no such workspace');
    return rows[0].erasure_secret;
  }

  /**
   * Locks the person's identifiers (exclusively) and profile rows, and reads what they hold.
   * An identifier added between the first read and the locks means someone changed the person
   * meanwhile: the transaction starts over.
   */
  private async lockPerson(tx: Tx, ws: string, resolved: string): Promise<Person | null> {
    const before = await this.readPerson(tx, ws, resolved, false);
    if (!before) return null;
    await this.locks.lockIdentifiers(tx, ws, personKeys(before), 'exclusive');
    const after = await this.readPerson(tx, ws, resolved, true);
    const locked = new Set(personKeys(before));
    if (!after || personKeys(after).some((k) => !locked.has(k))) {
      throw new RaceLostError('the person changed while being forgotten');
    }
    return after;
  }

  /**
   * The person whose live profile is `resolved` or, when it was merged away after the lookup
   * resolved it, the survivor it lives on in: that profile, the profiles merged into it, and
   * their identifiers.
   */
  private async readPerson(
    tx: Tx,
    ws: string,
    resolved: string,
    lock: boolean,
  ): Promise<Person | null> {
    const rows = rowsOf<{ id: string; external_id: string | null; email: string | null }>(
      await tx.execute(sql`
        select p.id, p.external_id, p.email from profiles p,
          (select coalesce(merged_into, id) as id from profiles
           where workspace_id = ${ws} and id = ${resolved}) as live
        where p.workspace_id = ${ws} and (p.id = live.id or p.merged_into = live.id)
        order by p.id ${lock ? sql`for update of p` : sql``}`),
    );
    if (rows.length === 0) return null;
    const ids = rows.map((r) => r.id);
    const aliasRows = rowsOf<{ alias_label: string; alias_name: string }>(
      await tx.execute(sql`
        select alias_label, alias_name from aliases
        where workspace_id = ${ws} and profile_id = any(${uuidArray(ids)})`),
    );
    const present = (v: string | null): v is string => v !== null;
    return {
      profileIds: ids,
      externalIds: rows.map((r) => r.external_id).filter(present),
      emails: [...new Set(rows.map((r) => r.email).filter(present))],
      aliases: aliasRows.map((a) => ({ aliasLabel: a.alias_label, aliasName: a.alias_name })),
    };
  }

  private async erase(tx: Tx, ws: string, person: Person, now: Date): Promise<void> {
    const ids = uuidArray(person.profileIds);
    const at = now.toISOString();
    const mergeIds = rowsOf<{ id: string }>(
      await tx.execute(sql`
        delete from merges where workspace_id = ${ws}
          and (survivor_id = any(${ids}) or absorbed_id = any(${ids}))
        returning id`),
    ).map((r) => r.id);
    // Deliveries about the person: scrubbed; those still waiting are skipped, never sent.
    const touched = rowsOf<{ vendor: string; profile_id: string; was_waiting: boolean }>(
      await tx.execute(sql`
        update outbox_messages m set
          payload = '{"forgotten":true}'::jsonb, profile_id = ${NO_PROFILE},
          status = case when m.status in ('PENDING', 'RETRYING') then 'SKIPPED' else m.status end,
          last_error = case when m.status in ('PENDING', 'RETRYING') then 'forgotten' else m.last_error end,
          parked = false, claimed_by = null, claimed_until = null,
          updated_at = ${at}::timestamptz
        from (
          select o.id, o.profile_id, o.status in ('PENDING', 'RETRYING') as was_waiting
          from outbox_messages o
          where o.workspace_id = ${ws}
            and (o.profile_id = any(${ids}) or o.change_id = any(${uuidArray(mergeIds)}))
          order by o.id
          for update
        ) as w
        where m.workspace_id = ${ws} and m.id = w.id
        returning m.vendor, w.profile_id, w.was_waiting`),
    );
    // A queue of someone else that lost waiting rows (a removed merge's) moves on to its next.
    const gone = new Set(person.profileIds);
    for (const vendor of VENDOR_NAMES) {
      const queues = touched
        .filter((r) => r.was_waiting && r.vendor === vendor && !gone.has(r.profile_id))
        .map((r) => r.profile_id);
      await promoteNext(tx, ws, vendor, queues, now);
    }
    for (const table of ACTIVITY_TABLES) {
      await tx.execute(
        sql`delete from ${sql.identifier(table)} where workspace_id = ${ws} and profile_id = any(${ids})`,
      );
    }
    await tx.execute(sql`delete from profiles where workspace_id = ${ws} and id = any(${ids})`);
    // Answers kept for idempotency that name the person.
    const needles = [
      ...person.profileIds,
      ...person.externalIds,
      ...person.emails,
      ...person.aliases.map((a) => a.aliasName),
      ...mergeIds,
    ].map((v) => JSON.stringify(v));
    await tx.execute(sql`
      delete from idempotency_keys k where k.workspace_id = ${ws}
        and exists (select 1 from unnest(${textArray(needles)}) as n(v)
                    where strpos(k.result::text, n.v) > 0)`);
  }

  private async record(tx: Tx, ws: string, receipt: ErasureReceipt): Promise<void> {
    await tx.insert(erasures).values({
      workspaceId: ws,
      ...receipt,
      fingerprints: [...receipt.fingerprints],
      notErased: [...receipt.notErased],
    });
  }

  private async suppress(
    tx: Tx,
    ws: string,
    erasureId: string,
    fingerprints: readonly string[],
    now: Date,
  ): Promise<void> {
    if (fingerprints.length === 0) return;
    await tx.execute(sql`
      insert into suppressions (workspace_id, fingerprint, erasure_id, created_at)
      select ${ws}, f, ${erasureId}, ${now.toISOString()}::timestamptz
      from unnest(${textArray(fingerprints)}) as f
      on conflict (workspace_id, fingerprint) do nothing`);
  }
}

export interface ErasureOptions {
  readonly clock?: () => Date;
  /** Told when an erasure committed vendor deletions for a workspace (wakes the dispatcher). */
  readonly queued?: (workspaceId: string) => void;
  /** How long an idempotency key answers repeats (IDEMPOTENCY_TTL_HOURS). */
  readonly idempotencyTtlMs?: number;
}

/** What an idempotency record keeps of a forgetUsers answer: receipts by id, read again on replay. */
interface StoredForget {
  readonly results: readonly (Omit<ForgetItemResult, 'erasure'> & { erasure: string | null })[];
}

/** The columns of a receipt, as the API shows it. */
const RECEIPT = {
  id: erasures.id,
  status: erasures.status,
  requestedAt: erasures.requestedAt,
  completedAt: erasures.completedAt,
  reason: erasures.reason,
  identifierCount: erasures.identifierCount,
  fingerprints: erasures.fingerprints,
  notErased: erasures.notErased,
};

/** Where a scrubbed delivery's queue was: nobody's (the profile ids of the forgotten go too). */
const NO_PROFILE = '00000000-0000-0000-0000-000000000000';

/** Tables of a profile's activity, each keyed by (workspace_id, profile_id, ...). */
const ACTIVITY_TABLES = [
  'aliases',
  'event_summaries',
  'event_daily_counts',
  'purchase_summaries',
  'push_tokens',
  'app_sessions',
] as const;

/**
 * A dry run in a workspace that never erased anyone computes fingerprints under a throwaway key:
 * it must not make the real one.
 */
const PREVIEW_KEY = randomBytes(32);

/** The identifier keys of everything a person holds. */
function personKeys(p: Person): string[] {
  return [
    ...p.externalIds.map((externalId) => identifierKey({ kind: 'externalId', externalId })),
    ...p.emails.map((email) => identifierKey({ kind: 'email', email })),
    ...p.aliases.map((a) => identifierKey({ kind: 'alias', ...a })),
  ].sort();
}

/** The identifier a lookup names (none for a profile id). */
function namedRef(scope: WorkspaceScope, by: ProfileLookupValue): IdentifierRef | null {
  if (by.externalId != null) return { kind: 'externalId', externalId: by.externalId };
  if (by.email != null) return { kind: 'email', email: by.email };
  if (by.anonId != null)
    return { kind: 'alias', aliasLabel: scope.anonIdLabel, aliasName: by.anonId };
  if (by.alias != null) return { kind: 'alias', ...by.alias };
  return null;
}

/** The key of the identifier a lookup names, for suppressing one nobody holds. */
function namedKey(scope: WorkspaceScope, by: ProfileLookupValue): string | null {
  const ref = namedRef(scope, by);
  return ref === null ? null : identifierKey(ref);
}
