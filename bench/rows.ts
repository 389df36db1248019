/**
 * Turns measured figures into table lines: each figure with its reference, ratio and goal (the
 * goals of the performance issue), and notes on anything a figure hides (failed requests,
 * identify outcomes other than MERGED).
 */
import { failures, type LoadReport } from './measure.js';
import type { Figure, Figures } from './scenarios.js';
import { fmt, mb, ms, type Row } from './table.js';
import type { Kind } from './targets.js';

const NAME: Record<Kind, string> = { postgres: 'PostgreSQL', pglite: 'PGlite' };
const IDENTIFY_SIZE = 50;
const TRACK_SIZE = 75;

function database(kind: Kind, users: number): string {
  return `${NAME[kind]}, ${users >= 1_000_000 ? `${fmt(users / 1e6)}M` : `${fmt(users / 1e3)}k`} profiles`;
}

/** A figure's failures, shown where the figure is: a figure with failures meets no goal. */
function failed(r: LoadReport): string {
  const n = failures(r);
  return n ? ` ⚠ ${fmt(n)} failed` : '';
}

const perSecond = (r: LoadReport, unit: string, per = 1) => `${fmt(r.perSecond * per)} ${unit}/s`;
const latency = (r: LoadReport) => `p50 ${ms(r.p50)}, p99 ${ms(r.p99)}`;

function speedRow(
  what: string,
  db: string,
  m: Figure,
  ref: Figure | undefined,
  unit: string,
  per: number,
  goal: number,
  detail = '',
): Row {
  const r = m.report;
  const ratio = ref ? r.perSecond / ref.report.perSecond : null;
  return {
    what,
    database: db,
    measured: `${perSecond(r, unit, per)} (${detail}${latency(r)})${failed(r)}`,
    reference: ref ? `${perSecond(ref.report, unit, per)}${failed(ref.report)}` : 'n/a',
    ratio,
    goal: `≥ ${goal} × reference`,
    holds: ratio === null ? null : ratio >= goal && !failures(r),
  };
}

function p99Row(
  what: string,
  db: string,
  m: Figure,
  ref: Figure | undefined,
  goal: number,
  unit: string,
): Row {
  const r = m.report;
  return {
    what,
    database: db,
    measured: `p99 ${ms(r.p99)} (p50 ${ms(r.p50)}, ${perSecond(r, unit)})${failed(r)}`,
    reference: ref ? `p99 ${ms(ref.report.p99)}${failed(ref.report)}` : 'n/a',
    ratio: ref ? r.p99 / ref.report.p99 : null,
    goal: `p99 < ${goal} ms`,
    holds: r.p99 < goal && !failures(r),
  };
}

function memoryRow(what: string, db: string, kib: number, refKiB: number, goal: number): Row {
  return {
    what,
    database: db,
    measured: mb(kib),
    reference: `${mb(refKiB)} (Apollo)`,
    ratio: kib / refKiB,
    goal: `< ${goal} MB`,
    holds: (kib * 1024) / 1e6 < goal,
  };
}

function merged(r: LoadReport): string {
  return `${fmt(r.outcomes['MERGED'] ?? 0)} of ${fmt(r.requests * IDENTIFY_SIZE)} MERGED, `;
}

export function rowsFor(kind: Kind, f: Figures, apolloIdleKiB: number): Row[] {
  const db = database(kind, 10_000);
  const apolloPeak = f['typename:reference'].peakKiB;
  const hello = f['typename:reference'].report.perSecond;
  const floor = f['profile:reference'];
  const memGoal = kind === 'postgres' ? 200 : 600;
  const rows: Row[] = [
    speedRow(
      '`{ __typename }` vs Apollo `{ hello }`',
      db,
      f['typename'],
      f['typename:reference'],
      'req',
      1,
      0.7,
    ),
    speedRow(
      '`profile(by:)` vs Apollo `{ hello }`',
      db,
      f['profile'],
      f['typename:reference'],
      'req',
      1,
      kind === 'postgres' ? 0.5 : 0.25,
    ),
    {
      what: '`profile(by:)` vs the read floor: the same read hand-written on Apollo, one prepared statement (no goal; shows what one database read a request leaves)',
      database: db,
      measured: `${perSecond(f['profile'].report, 'req')}${failed(f['profile'].report)}`,
      reference: `${perSecond(floor.report, 'req')} (${fmt(floor.report.perSecond / hello, 2)} × Apollo \`{ hello }\`)${failed(floor.report)}`,
      ratio: f['profile'].report.perSecond / floor.report.perSecond,
      goal: 'none',
      holds: null,
    },
    p99Row(
      `\`profile(by:)\` p99 at half its peak (${fmt(f['profileHalf'].report.perSecond)} req/s; reference the read floor at that rate)`,
      db,
      f['profileHalf'],
      f['profileHalf:reference'],
      10,
      'req',
    ),
    speedRow(
      '`trackUsers`, 75 events of 75 users a call, vs its floor',
      db,
      f['track'],
      f['track:reference'],
      'events',
      TRACK_SIZE,
      0.6,
      `${fmt(f['track'].report.perSecond, 1)} calls/s, `,
    ),
    speedRow(
      '`identifyUsers`, 50 merges a call, vs its floor',
      db,
      f['identify'],
      f['identify:reference'],
      'identifiers',
      IDENTIFY_SIZE,
      0.6,
      `${fmt(f['identify'].report.perSecond, 1)} calls/s, ${merged(f['identify'].report)}`,
    ),
    p99Row(
      `\`identifyUsers\` p99 at half its peak (${fmt(f['identifyHalf'].report.perSecond, 1)} calls/s; reference the floor at that rate)`,
      db,
      f['identifyHalf'],
      f['identifyHalf:reference'],
      100,
      'calls',
    ),
    memoryRow('resident memory, idle', db, f['idle'].peakKiB, apolloIdleKiB, memGoal),
  ];
  const loads: [string, string][] = [
    ['typename', '`{ __typename }`'],
    ['profile', '`profile(by:)`'],
    ['track', '`trackUsers`'],
    ['identify', '`identifyUsers`'],
  ];
  for (const [name, label] of loads) {
    rows.push(
      memoryRow(`resident memory, peak under ${label}`, db, f[name].peakKiB, apolloPeak, memGoal),
    );
  }
  return rows;
}

export function startRow(kind: Kind, startMs: number, apolloMs: number): Row {
  const goal = kind === 'postgres' ? 1000 : 2000;
  return {
    what: 'start: spawn to first 200 of `/readyz` (reference: Apollo to first `{ hello }`)',
    database: kind === 'postgres' ? 'PostgreSQL, migrated' : 'PGlite, existing folder',
    measured: ms(startMs),
    reference: ms(apolloMs),
    ratio: startMs / apolloMs,
    goal: `< ${goal / 1000} s`,
    holds: startMs < goal,
  };
}

/** Speed with a million users against speed with 10,000: ratio = 10k / 1M, at most 1.5. */
export function largeRows(users: number, f: Figures, ten: Figures): Row[] {
  const db = database('postgres', users);
  const line = (name: string, label: string, unit: string, per: number): Row => {
    const r = f[name].report;
    const ratio = ten[name].report.perSecond / r.perSecond;
    return {
      what: `${label} with ${fmt(users)} profiles vs with 10,000`,
      database: db,
      measured: `${perSecond(r, unit, per)} (${latency(r)})${failed(r)}`,
      reference: perSecond(ten[name].report, unit, per),
      ratio,
      goal: `10k / ${users >= 1_000_000 ? `${fmt(users / 1e6)}M` : fmt(users)} ≤ 1.5`,
      holds: ratio <= 1.5 && !failures(r),
    };
  };
  const apolloPeak = ten['typename:reference'].peakKiB;
  return [
    line('profile', '`profile(by:)`', 'req', 1),
    line('identify', '`identifyUsers`', 'identifiers', IDENTIFY_SIZE),
    memoryRow(
      'resident memory, peak under `profile(by:)`',
      db,
      f['profile'].peakKiB,
      apolloPeak,
      200,
    ),
    memoryRow(
      'resident memory, peak under `identifyUsers`',
      db,
      f['identify'].peakKiB,
      apolloPeak,
      200,
    ),
  ];
}

/** identifyUsers on year-old users against the same on new users (both 10,000 of them). */
export function agedRows(f: Figures, fresh: Figures): Row[] {
  const r = f['identify'].report;
  const ratio = fresh['identify'].report.perSecond / r.perSecond;
  return [
    {
      what: '`identifyUsers` into users a year old vs into new users',
      database: 'PostgreSQL, 10k year-old profiles',
      measured: `${perSecond(r, 'identifiers', IDENTIFY_SIZE)} (${latency(r)})${failed(r)}`,
      reference: perSecond(fresh['identify'].report, 'identifiers', IDENTIFY_SIZE),
      ratio,
      goal: 'new / year-old ≤ 1.5',
      holds: ratio <= 1.5 && !failures(r),
    },
  ];
}

export function notesFor(kind: Kind, f: Figures): string[] {
  const notes: string[] = [];
  for (const [name, figure] of Object.entries(f)) {
    const r = figure.report;
    if (failures(r)) {
      notes.push(
        `${NAME[kind]} ${name}: ${fmt(r.non2xx)} non-2xx, ${fmt(r.errors)} connection errors, ` +
          `${fmt(r.badAnswers)} wrong answers; first: ${r.firstError ?? 'none recorded'}`,
      );
    }
    const others = Object.entries(r.outcomes).filter(([o]) => o !== 'MERGED');
    if (others.length) {
      notes.push(
        `${NAME[kind]} ${name}: outcomes other than MERGED: ${JSON.stringify(Object.fromEntries(others))}`,
      );
    }
  }
  return notes;
}
