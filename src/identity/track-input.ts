/**
 * The trackUsers request: its shape, and the checks that run before anything is written. Every
 * problem in the request is reported at once; one problem means nothing is written.
 */
import { badInput, type InputProblem } from '../lib/app-error.js';
import { isEmailFormat, normalizeEmail, type IdentifierRef } from './engine/identifiers.js';
import { STANDARD_FIELDS } from './engine/model.js';
import type { StandardAttribute } from './store/track-repository.js';
import { jsonProblem, resolveUserRef, textProblem, type UserRefInput } from './user-ref.js';

export const MAX_TRACK_OBJECTS = 75;
/** Events may be late, but not from the future (Mixpanel refuses more than an hour ahead). */
export const MAX_FUTURE_MS = 60 * 60 * 1000;
export const EARLIEST_TIME = Date.UTC(1971, 0, 1);
const MAX_TEXT = 255;

export interface UserAttributesValue extends UserRefInput {
  readonly email?: string | null;
  readonly firstName?: string | null;
  readonly lastName?: string | null;
  readonly gender?: string | null;
  readonly dateOfBirth?: string | null;
  readonly phone?: string | null;
  readonly timeZone?: string | null;
  readonly homeCity?: string | null;
  readonly country?: string | null;
  readonly language?: string | null;
  readonly customAttributes?: Record<string, unknown> | null;
}

export interface UserEventValue extends UserRefInput {
  readonly name: string;
  readonly time: Date;
  readonly properties?: Record<string, unknown> | null;
}

export interface UserPurchaseValue extends UserRefInput {
  readonly productId: string;
  readonly priceCents: number;
  readonly currency?: string | null;
  readonly quantity?: number | null;
  readonly time: Date;
}

export interface UserSessionValue extends UserRefInput {
  readonly appId?: string | null;
  readonly startedAt: Date;
  readonly endedAt?: Date | null;
}

export interface PushTokenValue extends UserRefInput {
  readonly appId: string;
  readonly token: string;
  readonly platform?: string | null;
}

export interface TrackUsersRequest {
  readonly attributes?: readonly UserAttributesValue[] | null;
  readonly events?: readonly UserEventValue[] | null;
  readonly purchases?: readonly UserPurchaseValue[] | null;
  readonly sessions?: readonly UserSessionValue[] | null;
  readonly pushTokens?: readonly PushTokenValue[] | null;
}

/** An item of the request with the identifier of its user. */
export interface Located<T> {
  readonly user: IdentifierRef;
  readonly item: T;
}

export interface ValidTrack {
  readonly attributes: Located<UserAttributesValue>[];
  readonly events: Located<UserEventValue>[];
  readonly purchases: Located<UserPurchaseValue>[];
  readonly sessions: Located<UserSessionValue>[];
  readonly pushTokens: Located<PushTokenValue>[];
}

type Check<T> = (item: T, path: string, problems: InputProblem[]) => void;

export function validateTrack(
  request: TrackUsersRequest,
  anonIdLabel: string,
  now: Date,
): ValidTrack {
  const problems: InputProblem[] = [];
  const list = <T extends UserRefInput>(
    name: keyof TrackUsersRequest,
    items: readonly T[] | null | undefined,
    check: Check<T>,
  ): Located<T>[] => {
    const all = items ?? [];
    if (all.length > MAX_TRACK_OBJECTS) {
      problems.push({
        path: `input.${name}`,
        message: `at most ${MAX_TRACK_OBJECTS} objects per request`,
      });
      return [];
    }
    const located: Located<T>[] = [];
    all.forEach((item, i) => {
      const path = `input.${name}[${i}]`;
      const user = resolveUserRef(item, path, anonIdLabel, problems);
      check(item, path, problems);
      if (user) located.push({ user, item });
    });
    return located;
  };
  const future = now.getTime() + MAX_FUTURE_MS;
  // Mixpanel refuses times before 1971 and more than an hour ahead; so does the gateway.
  const timeProblem = (time: Date) =>
    Number.isNaN(time.getTime())
      ? 'must be a valid date-time'
      : time.getTime() > future
        ? 'must not be more than an hour in the future'
        : time.getTime() < EARLIEST_TIME
          ? 'must not be before 1971-01-01'
          : null;
  const field = (problems: InputProblem[], path: string, message: string | null) => {
    if (message) problems.push({ path, message });
  };

  const result: ValidTrack = {
    attributes: list('attributes', request.attributes, (a, path, out) => {
      for (const key of ATTRIBUTE_KEYS) {
        const value = a[key];
        if (value != null) field(out, `${path}.${key}`, textProblem(value, MAX_TEXT));
      }
      if (a.email != null && !isEmailFormat(a.email)) {
        out.push({ path: `${path}.email`, message: 'must be an email address' });
      }
      if (a.customAttributes != null) {
        field(out, `${path}.customAttributes`, jsonProblem(a.customAttributes));
        for (const key of Object.keys(a.customAttributes)) {
          field(
            out,
            `${path}.customAttributes`,
            key === '' ? 'keys must not be empty' : textProblem(key, MAX_TEXT),
          );
        }
      }
    }),
    events: list('events', request.events, (e, path, out) => {
      field(
        out,
        `${path}.name`,
        e.name.trim() === '' ? 'must not be blank' : textProblem(e.name, MAX_TEXT),
      );
      field(out, `${path}.time`, timeProblem(e.time));
      if (e.properties != null) field(out, `${path}.properties`, jsonProblem(e.properties));
    }),
    purchases: list('purchases', request.purchases, (p, path, out) => {
      field(
        out,
        `${path}.productId`,
        p.productId.trim() === '' ? 'must not be blank' : textProblem(p.productId, MAX_TEXT),
      );
      field(out, `${path}.priceCents`, p.priceCents < 0 ? 'must not be negative' : null);
      const quantity = p.quantity ?? 1;
      field(
        out,
        `${path}.quantity`,
        quantity < 1 || quantity > 100 ? 'must be between 1 and 100' : null,
      );
      if (p.currency != null && !/^[A-Z]{3}$/.test(p.currency)) {
        out.push({ path: `${path}.currency`, message: 'must be an ISO 4217 code such as USD' });
      }
      field(out, `${path}.time`, timeProblem(p.time));
    }),
    sessions: list('sessions', request.sessions, (s, path, out) => {
      if (s.appId != null) field(out, `${path}.appId`, textProblem(s.appId, MAX_TEXT));
      field(out, `${path}.startedAt`, timeProblem(s.startedAt));
      if (s.endedAt != null) field(out, `${path}.endedAt`, timeProblem(s.endedAt));
      if (s.endedAt != null && s.endedAt.getTime() < s.startedAt.getTime()) {
        out.push({ path: `${path}.endedAt`, message: 'must not be before startedAt' });
      }
    }),
    pushTokens: list('pushTokens', request.pushTokens, (t, path, out) => {
      field(
        out,
        `${path}.appId`,
        t.appId.trim() === '' ? 'must not be blank' : textProblem(t.appId, MAX_TEXT),
      );
      field(
        out,
        `${path}.token`,
        t.token.trim() === '' ? 'must not be blank' : textProblem(t.token, 4096),
      );
      if (t.platform != null) field(out, `${path}.platform`, textProblem(t.platform, MAX_TEXT));
    }),
  };
  if (problems.length > 0) throw badInput(problems);
  return result;
}

/** The standard attributes a request may set (the engine's list of Braze's merged fields). */
export const ATTRIBUTE_KEYS: readonly StandardAttribute[] = STANDARD_FIELDS;

/** The stored form of an attribute value (emails are compared lower-cased). */
export function storedAttribute(key: StandardAttribute, value: string | null): string | null {
  if (value === null) return null;
  return key === 'email' ? normalizeEmail(value) : value;
}
