/** What both vendors' answers mean alike: a 429 throttles; a 5xx or a proxy's 408 is worth a retry. */
import type { Classification, VendorResponse } from '../outbox/message.js';

/** The shared verdict for throttling and server failures, or null when the vendor's own rules apply. */
export function transientVerdict(
  response: VendorResponse,
  error: string,
  throttlePauseMs: () => number,
): Classification | null {
  if (response.status === 429) return { kind: 'retry', error, pauseMs: throttlePauseMs() };
  // 408 is a proxy's timeout, not a verdict on the payload.
  if (response.status >= 500 || response.status === 408) {
    return { kind: 'retry', error, pauseMs: null };
  }
  return null;
}
