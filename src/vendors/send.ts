/** Sends one vendor request over HTTP with a time limit; a failure to get an answer is data. */
import type { VendorRequest, VendorResponse } from '../outbox/message.js';

export type SendResult =
  | { readonly kind: 'response'; readonly response: VendorResponse }
  | { readonly kind: 'network'; readonly error: string };

export async function sendVendorRequest(
  request: VendorRequest,
  timeoutMs: number,
  cancel?: AbortSignal,
): Promise<SendResult> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = cancel ? AbortSignal.any([timeout, cancel]) : timeout;
  try {
    const res = await fetch(request.url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      signal,
    });
    const body = await res.text();
    const headers: Record<string, string> = {};
    res.headers.forEach((value, key) => {
      headers[key.toLowerCase()] = value;
    });
    return { kind: 'response', response: { status: res.status, headers, body } };
  } catch (error) {
    if (timeout.aborted) return { kind: 'network', error: `timeout after ${timeoutMs} ms` };
    if (cancel?.aborted) return { kind: 'network', error: 'cancelled: dispatcher stopping' };
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return { kind: 'network', error: `network: ${cause?.code ?? cause?.message ?? String(error)}` };
  }
}
