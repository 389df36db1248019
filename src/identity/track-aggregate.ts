/**
 * Folds the items of a trackUsers request into one write per row: attributes per profile in
 * request order, event and purchase summaries, daily counts, sessions per app, push tokens.
 */
import type {
  AttributePatch,
  DailyAggregate,
  EventAggregate,
  PurchaseAggregate,
  PushTokenWrite,
  SessionAggregate,
} from './store/track-repository.js';
import { ATTRIBUTE_KEYS, storedAttribute, type Located, type ValidTrack } from './track-input.js';

/** Daily counts are kept for this many UTC days, today included. */
export const DAILY_WINDOW_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;

/** The last day utcDay wrote out: a request's items mostly fall on one or two days. */
let lastDay = NaN;
let lastDayText = '';

/** The UTC day of `time` as `YYYY-MM-DD`. */
export function utcDay(time: Date): string {
  const day = Math.floor(time.getTime() / DAY_MS);
  if (day !== lastDay) {
    lastDayText = new Date(day * DAY_MS).toISOString().slice(0, 10);
    lastDay = day;
  }
  return lastDayText;
}

export function firstDayOfWindow(now: Date): string {
  return utcDay(new Date(now.getTime() - (DAILY_WINDOW_DAYS - 1) * DAY_MS));
}

export interface TrackWrites {
  readonly attributes: AttributePatch[];
  readonly events: EventAggregate[];
  readonly dailyCounts: DailyAggregate[];
  readonly purchases: PurchaseAggregate[];
  readonly sessions: SessionAggregate[];
  readonly pushTokens: PushTokenWrite[];
}

type ProfileOf = <T>(located: Located<T>) => string;

export function aggregateTrack(valid: ValidTrack, profileOf: ProfileOf, now: Date): TrackWrites {
  const firstDay = firstDayOfWindow(now);
  const attributes = new Map<
    string,
    { set: AttributePatch['set']; cs: Record<string, unknown>; cu: Set<string> }
  >();
  for (const located of valid.attributes) {
    const id = profileOf(located);
    const patch = attributes.get(id) ?? { set: {}, cs: {}, cu: new Set<string>() };
    const a = located.item;
    for (const key of ATTRIBUTE_KEYS) {
      // undefined: not sent, left alone; null: cleared.
      if (a[key] !== undefined) patch.set[key] = storedAttribute(key, a[key] ?? null);
    }
    for (const [key, value] of Object.entries(a.customAttributes ?? {})) {
      if (value === null) {
        delete patch.cs[key];
        patch.cu.add(key);
      } else {
        patch.cs[key] = value;
        patch.cu.delete(key);
      }
    }
    attributes.set(id, patch);
  }

  const events = new Map<string, EventAggregate>();
  const days = new Map<string, DailyAggregate>();
  for (const located of valid.events) {
    const profileId = profileOf(located);
    const { name, time } = located.item;
    const key = `${profileId}\u0001${name}`;
    const e = events.get(key);
    if (e) {
      e.count += 1;
      if (time < e.firstAt) e.firstAt = time;
      if (time > e.lastAt) e.lastAt = time;
    } else {
      events.set(key, { profileId, name, count: 1, firstAt: time, lastAt: time });
    }
    const day = utcDay(time);
    if (day >= firstDay) {
      const dayKey = `${key}\u0001${day}`;
      const d = days.get(dayKey);
      if (d) d.count += 1;
      else days.set(dayKey, { profileId, name, day, count: 1 });
    }
  }

  const purchases = new Map<string, PurchaseAggregate>();
  for (const located of valid.purchases) {
    const profileId = profileOf(located);
    const { priceCents, time } = located.item;
    const quantity = located.item.quantity ?? 1;
    const p = purchases.get(profileId);
    if (p) {
      p.count += quantity;
      p.totalCents += priceCents * quantity;
      if (time < p.firstAt) p.firstAt = time;
      if (time > p.lastAt) p.lastAt = time;
    } else {
      purchases.set(profileId, {
        profileId,
        count: quantity,
        totalCents: priceCents * quantity,
        firstAt: time,
        lastAt: time,
      });
    }
  }

  const sessions = new Map<string, SessionAggregate>();
  for (const located of valid.sessions) {
    const profileId = profileOf(located);
    const { startedAt, endedAt } = located.item;
    const appId = located.item.appId ?? '';
    const seconds = endedAt ? Math.round((endedAt.getTime() - startedAt.getTime()) / 1000) : 0;
    const key = `${profileId}\u0001${appId}`;
    const s = sessions.get(key);
    if (s) {
      s.count += 1;
      s.seconds += seconds;
      if (startedAt < s.firstAt) s.firstAt = startedAt;
      if (startedAt > s.lastAt) s.lastAt = startedAt;
    } else {
      sessions.set(key, {
        profileId,
        appId,
        count: 1,
        firstAt: startedAt,
        lastAt: startedAt,
        seconds,
      });
    }
  }

  // A token named twice in one request ends with the last profile that sent it.
  const tokens = new Map<string, PushTokenWrite>();
  for (const located of valid.pushTokens) {
    const { appId, token } = located.item;
    tokens.set(`${appId}\u0001${token}`, {
      profileId: profileOf(located),
      appId,
      token,
      platform: located.item.platform ?? null,
    });
  }

  return {
    attributes: [...attributes].map(([profileId, p]) => ({
      profileId,
      set: p.set,
      customSet: p.cs,
      customUnset: [...p.cu],
    })),
    events: [...events.values()],
    dailyCounts: [...days.values()],
    purchases: [...purchases.values()],
    sessions: [...sessions.values()],
    // In key order, so two requests moving the same tokens lock them in the same order.
    pushTokens: [...tokens.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, t]) => t),
  };
}
