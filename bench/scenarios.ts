/**
 * The scenarios against one database: each figure is the median of several runs, and each run
 * of the gateway alternates with a run of its reference (Apollo's `{ hello }` or the floor), so
 * that both see the same machine. The gateway's resident memory is sampled during every run.
 */
import { medianReport, runJob, settings, type Job, type LoadReport } from './measure.js';
import { rssKiB } from './processes.js';
import { peakRss, startApollo, type Server } from './servers.js';
import { poolAnonId } from './names.js';
import { ensureAnonymous, onGateway, stopGateway, type Target } from './targets.js';

export interface Figure {
  readonly report: LoadReport;
  /** Largest gateway resident set over the runs, in KiB (0 for references). */
  readonly peakKiB: number;
}

/** The figures of one database, by name (see measureDatabase). */
export type Figures = Record<string, Figure>;

const IDENTIFY_SIZE = 50;
/** Identifiers a second assumed before the first identify run, to size the anonymous pool. */
const FIRST_GUESS: Record<string, number> = { postgres: 4000, pglite: 1000 };
const guess = new Map<string, number>();

function job(t: Target, scenario: string, rate: number, gateway: Server | null): Job {
  const env: Record<string, string> = {
    USERS: String(t.users),
    OFFSET: String(Math.floor(Math.random() * t.users)),
    ANON_FROM: String(t.anonNext),
    ANON_TO: String(t.anonSeeded),
  };
  if (gateway) Object.assign(env, { URL: gateway.url, KEY: t.key });
  else Object.assign(env, { DATABASE_URL: t.databaseUrl!, WORKSPACE_ID: t.workspaceId });
  return { scenario, rate, env };
}

/** Anonymous users an identify run may consume, with a margin. */
function needed(t: Target, scenario: string, rate: number): number {
  const seconds = settings.seconds + settings.warmup;
  const perSecond = rate
    ? rate * IDENTIFY_SIZE
    : (guess.get(`${t.kind}:${scenario}`) ??
      FIRST_GUESS[t.kind] * (scenario.startsWith('floor-') ? 2 : 1));
  return Math.ceil(perSecond * seconds * 1.3) + 1000;
}

/**
 * One run of `scenario` (a floor's, or the gateway's with its memory sampled). Identify runs
 * consume fresh anonymous users; one that ran out of them is repeated with a larger pool.
 */
async function run(t: Target, scenario: string, rate = 0): Promise<Figure> {
  const identify = scenario.endsWith('identify');
  const key = `${t.kind}:${scenario}`;
  const once = async (gateway: Server | null): Promise<Figure> => {
    const from = t.anonNext;
    const figure = gateway
      ? await peakRss(gateway.child.process.pid, () =>
          runJob(job(t, scenario, rate, gateway)),
        ).then(({ result, peakMiB }) => ({ report: result, peakKiB: peakMiB * 1024 }))
      : { report: await runJob(job(t, scenario, rate, null)), peakKiB: 0 };
    if (identify) {
      t.anonNext = figure.report.anonNext;
      const used = (t.anonNext - from) / (settings.seconds + settings.warmup);
      if (!rate) guess.set(key, Math.max(guess.get(key) ?? 0, used));
    }
    return figure;
  };
  for (let attempt = 1; ; attempt++) {
    if (identify) await ensureAnonymous(t, needed(t, scenario, rate));
    const figure = scenario.startsWith('floor-')
      ? await once(null)
      : await onGateway(t, scenario, (gateway) => once(gateway));
    if (!figure.report.exhausted) return figure;
    guess.set(key, 2 * (guess.get(key) ?? FIRST_GUESS[t.kind]));
    if (attempt === 3) throw new Error(`${scenario}: the anonymous users ran out three times`);
  }
}

/** R runs of the gateway, each followed by one run of its reference when there is one. */
async function alternate(
  t: Target,
  scenario: string,
  rate: number,
  reference: (() => Promise<Figure>) | null,
): Promise<{ measured: Figure; reference: Figure | null }> {
  const measured: Figure[] = [];
  const references: Figure[] = [];
  for (let i = 0; i < settings.runs; i++) {
    measured.push(await run(t, scenario, rate));
    if (reference) references.push(await reference());
  }
  const merge = (figures: Figure[]): Figure => ({
    report: medianReport(figures.map((f) => f.report)),
    peakKiB: Math.max(...figures.map((f) => f.peakKiB)),
  });
  return { measured: merge(measured), reference: reference ? merge(references) : null };
}

/** Seeded users as the gateway reads them back: proof that the seed is what it expects. */
async function checkSeed(t: Target, gateway: Server): Promise<void> {
  const read = async (by: string) => {
    const res = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.key}` },
      body: JSON.stringify({
        query: `{ profile(by: ${by}) { externalId aliases { aliasLabel }
          events { name count dailyCounts { count } } purchases { count totalCents } } }`,
      }),
    });
    return ((await res.json()) as { data?: { profile: any } }).data?.profile;
  };
  const user = await read('{ externalId: "user-0" }');
  const anon = await read(`{ anonId: "${poolAnonId(t.anonNext)}" }`);
  const counted = (p: any) =>
    p.events.every(
      (e: any) => e.dailyCounts.reduce((n: number, d: any) => n + d.count, 0) === e.count,
    );
  const ok =
    user?.aliases.length === (t.history === 'year' ? 10 : 2) &&
    user.events.length === 3 &&
    counted(user) &&
    user.purchases?.count >= 1 &&
    anon?.externalId === null &&
    anon.aliases.length === 1 &&
    counted(anon);
  if (!ok) throw new Error(`seeded users read back wrong: ${JSON.stringify({ user, anon })}`);
}

/**
 * One run of the read floor (bench/apollo-profile.ts, compiled to `script`) on the target's
 * data. The embedded database's folder is one process's at a time: there the gateway stops
 * first, and the next gateway run starts it again.
 */
async function readFloor(t: Target, script: string, rate: number): Promise<Figure> {
  if (t.kind === 'pglite') await stopGateway(t);
  const where = t.databaseUrl ? { DATABASE_URL: t.databaseUrl } : { DATA_DIR: t.env['DATA_DIR'] };
  const floor = await startApollo(script, { ...where, WORKSPACE_ID: t.workspaceId });
  try {
    const env = {
      URL: floor.url,
      USERS: String(t.users),
      OFFSET: String(Math.floor(Math.random() * t.users)),
    };
    const { result, peakMiB } = await peakRss(floor.child.process.pid, () =>
      runJob({ scenario: 'profile', rate, env }),
    );
    return { report: result, peakKiB: peakMiB * 1024 };
  } finally {
    await floor.child.stop();
  }
}

/**
 * Every scenario on one database with 10,000 users: `{ __typename }` against Apollo's
 * `{ hello }`, `profile(by:)` against the read floor (`readFloorScript`, on both databases), the
 * writes against their floors (PostgreSQL only).
 */
export async function measureDatabase(
  t: Target,
  apollo: Server,
  readFloorScript: string,
): Promise<Figures> {
  const figures: Figures = {};
  const gateway = await onGateway(t, 'start', async (g) => g);
  await checkSeed(t, gateway);
  await new Promise((r) => setTimeout(r, 2000));
  figures['idle'] = { report: medianReport([]), peakKiB: rssKiB(gateway.child.process.pid) ?? 0 };

  const hello = async (): Promise<Figure> => {
    const job = { scenario: 'hello', env: { URL: apollo.url } };
    const { result, peakMiB } = await peakRss(apollo.child.process.pid, () => runJob(job));
    return { report: result, peakKiB: peakMiB * 1024 };
  };
  const floor = (scenario: string, rate = 0) =>
    t.databaseUrl ? () => run(t, scenario, rate) : null;
  const record = (name: string, pair: { measured: Figure; reference: Figure | null }) => {
    figures[name] = pair.measured;
    if (pair.reference) figures[`${name}:reference`] = pair.reference;
  };

  record('typename', await alternate(t, 'typename', 0, hello));
  const read = (rate: number) => () => readFloor(t, readFloorScript, rate);
  record('profile', await alternate(t, 'profile', 0, read(0)));
  const half = Math.max(1, figures['profile'].report.perSecond / 2);
  record('profileHalf', await alternate(t, 'profile', half, read(half)));
  record('track', await alternate(t, 'track', 0, floor('floor-track')));
  record('identify', await alternate(t, 'identify', 0, floor('floor-identify')));
  const calls = Math.max(1, figures['identify'].report.perSecond / 2);
  record('identifyHalf', await alternate(t, 'identify', calls, floor('floor-identify', calls)));
  return figures;
}

/** The size-sensitive scenarios only, for the database with a million users. */
export async function measureLarge(t: Target): Promise<Figures> {
  const gateway = await onGateway(t, 'start', async (g) => g);
  await checkSeed(t, gateway);
  return {
    profile: (await alternate(t, 'profile', 0, null)).measured,
    identify: (await alternate(t, 'identify', 0, null)).measured,
  };
}

/** identifyUsers on users a year old (see seed.ts), to compare with the same on new users. */
export async function measureAged(t: Target): Promise<Figures> {
  const gateway = await onGateway(t, 'start', async (g) => g);
  await checkSeed(t, gateway);
  return { identify: (await alternate(t, 'identify', 0, null)).measured };
}
