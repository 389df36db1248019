/**
 * What a hand-written floor process shares with the others: LOOPS concurrent loops calling one
 * transaction after another for WARMUP then SECONDS seconds, or, when RATE is set, calls evenly
 * spaced at RATE a second on at most LOOPS connections as the load generator sends requests
 * (paced.ts), and one JSON line about the measured part, shaped like the load generator's.
 */
import { paced } from './paced.js';
import { percentile } from './processes.js';

export interface FloorSettings {
  readonly seconds: number;
  readonly warmup: number;
  readonly loops: number;
  /** Calls a second over all loops; 0 runs flat out. */
  readonly rate: number;
}

export function floorSettings(env: NodeJS.ProcessEnv): FloorSettings {
  return {
    seconds: Number(env['SECONDS'] ?? 10),
    warmup: Number(env['WARMUP'] ?? 2),
    loops: Number(env['CONNECTIONS'] ?? 10),
    rate: Number(env['RATE'] ?? 0),
  };
}

/** One call: resolves with the items it did, or null when the data ran out. */
export type FloorCall = () => Promise<number | null>;

interface Phase {
  latencies: number[];
  items: number;
  errors: number;
  exhausted: boolean;
  firstError: string | null;
}

async function phase(settings: FloorSettings, seconds: number, call: FloorCall): Promise<Phase> {
  const p: Phase = { latencies: [], items: 0, errors: 0, exhausted: false, firstError: null };
  /** One call: whether it did its work, failed, or found the data run out. */
  const attempt = async (): Promise<'done' | 'failed' | 'out'> => {
    try {
      const items = await call();
      if (items === null) {
        p.exhausted = true;
        return 'out';
      }
      p.items += items;
      return 'done';
    } catch (error) {
      p.errors++;
      p.firstError ??= (error as Error).message;
      return 'failed';
    }
  };
  if (settings.rate > 0) {
    const { latencies } = await paced(settings.rate, seconds, settings.loops, async () => {
      await attempt();
      return !p.exhausted;
    });
    p.latencies.push(...latencies);
    return p;
  }
  const end = performance.now() + seconds * 1000;
  const loop = async () => {
    while (performance.now() < end && !p.exhausted) {
      const t = performance.now();
      // Only calls that did their work are timed, as before pacing existed.
      if ((await attempt()) === 'done') p.latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: settings.loops }, () => loop()));
  return p;
}

export async function runFloor(
  settings: FloorSettings,
  call: FloorCall,
  anonNext: () => number = () => 0,
): Promise<void> {
  if (settings.warmup > 0) await phase(settings, settings.warmup, call);
  const started = performance.now();
  const p = await phase(settings, settings.seconds, call);
  const seconds = (performance.now() - started) / 1000;
  const round = (ms: number) => Math.round(ms * 10) / 10;
  process.stdout.write(
    JSON.stringify({
      requests: p.latencies.length,
      seconds,
      perSecond: p.latencies.length / seconds,
      p50: round(percentile(p.latencies, 50)),
      p99: round(percentile(p.latencies, 99)),
      non2xx: 0,
      errors: p.errors,
      badAnswers: 0,
      items: p.items,
      outcomes: {},
      anonNext: anonNext(),
      exhausted: p.exhausted,
      firstError: p.firstError,
    }) + '\n',
  );
}
