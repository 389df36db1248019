/**
 * What a hand-written floor process shares with the others: LOOPS concurrent loops calling one
 * transaction after another for WARMUP then SECONDS seconds, paced like autocannon's overallRate
 * when RATE is set (each loop may start RATE / LOOPS calls in each one-second window), and one
 * JSON line about the measured part, shaped like the load generator's.
 */
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
  const started = performance.now();
  const end = started + seconds * 1000;
  const perLoop = settings.rate / settings.loops;
  const loop = async (index: number) => {
    // The share of this loop, as autocannon splits an overall rate over its connections.
    const quota =
      Math.floor(perLoop) + (index < Math.round((perLoop % 1) * settings.loops) ? 1 : 0);
    let window = started;
    let inWindow = 0;
    while (performance.now() < end && !p.exhausted) {
      if (settings.rate > 0 && inWindow >= quota) {
        window += 1000;
        inWindow = 0;
        await new Promise((r) => setTimeout(r, Math.max(0, window - performance.now())));
        continue;
      }
      inWindow++;
      const t = performance.now();
      try {
        const items = await call();
        if (items === null) p.exhausted = true;
        else {
          p.latencies.push(performance.now() - t);
          p.items += items;
        }
      } catch (error) {
        p.errors++;
        p.firstError ??= (error as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: settings.loops }, (_, i) => loop(i)));
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
