/**
 * A steady rate, as "at half its peak" means it: calls are due at evenly spaced times (RATE a
 * second), each starts when it is due on one of at most `concurrency` slots (the connections or
 * the floor's loops), waiting for a slot when all are busy, and its latency counts from when it
 * was due, not from when it started: a server that falls behind is charged for the wait it
 * caused (no coordinated omission). autocannon's overallRate instead lets each connection send
 * its share of a second back to back at the start of the second, which loads the server fully
 * for part of every second and idles it for the rest.
 */
export interface PacedPhase {
  /** Milliseconds from due to done, of the calls that completed. */
  readonly latencies: number[];
  readonly seconds: number;
}

/**
 * Calls `call` `rate` times a second for `seconds` seconds, at most `concurrency` at once, and
 * waits for the last one. `call` resolves with false to stop early (the data ran out).
 */
export async function paced(
  rate: number,
  seconds: number,
  concurrency: number,
  call: () => Promise<boolean>,
): Promise<PacedPhase> {
  const latencies: number[] = [];
  const interval = 1000 / rate;
  const started = performance.now();
  const end = started + seconds * 1000;
  const due: number[] = [];
  let running = 0;
  let stopped = false;
  let idle: () => void = () => {};
  const drain = () => {
    while (running < concurrency && due.length > 0 && !stopped) {
      const at = due.shift()!;
      running++;
      void call()
        .then(
          (more) => {
            latencies.push(performance.now() - at);
            if (!more) stopped = true;
          },
          () => {},
        )
        .finally(() => {
          running--;
          drain();
          if (running === 0) idle();
        });
    }
  };
  for (let next = started; next < end && !stopped;) {
    const now = performance.now();
    for (; next <= now && next < end; next += interval) due.push(next);
    drain();
    await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
  }
  due.length = 0;
  if (running > 0) await new Promise<void>((r) => (idle = r));
  return { latencies, seconds: (performance.now() - started) / 1000 };
}
