/** Small readers of HTTP answers shared by the vendor translators. */

/** Delta seconds ("30", "1.5") as milliseconds; null when the value is not a number of seconds. */
export function secondsToMs(value: string): number | null {
  return /^\d+(\.\d+)?$/.test(value) ? Number(value) * 1000 : null;
}

/** Retry-After is either delta seconds or an HTTP date. */
export function retryAfterWaitMs(value: string, nowMs: number): number | null {
  const seconds = secondsToMs(value);
  if (seconds !== null) return seconds;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : at - nowMs;
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Vendor texts kept in lastError are cut at 500 characters. */
export function truncate(text: string, max = 500): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
