/**
 * Cross-origin access to `/graphql` for browser apps on the origins of `CORS_ORIGINS`, with the
 * `cors` package: a preflight from an allowed origin is answered 204 with that origin, `Vary:
 * Origin`, the methods and request headers a GraphQL client sends and how long to cache the
 * answer; the actual responses carry the origin too. Any other origin gets no `Access-Control-*`
 * header at all, so its browser refuses the response. No credentials: the API key travels in the
 * `authorization` header, never in a cookie. Apollo's CSRF prevention stays on for every origin.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import cors from 'cors';

/** Request headers a browser may send cross-origin: what Apollo Client, urql and GraphiQL set. */
export const CORS_ALLOWED_HEADERS = [
  'authorization',
  'content-type',
  'apollo-require-preflight',
  'x-apollo-operation-name',
  'x-request-id',
] as const;

/** Response headers a page may read: the request id to quote, and when to retry after a 429. */
export const CORS_EXPOSED_HEADERS = ['x-request-id', 'retry-after'] as const;

export const CORS_METHODS = ['GET', 'POST', 'OPTIONS'] as const;

/** Seconds a browser may reuse a preflight answer (browsers cap it: Chromium at two hours). */
export const CORS_MAX_AGE_SECONDS = 7200;

/**
 * Why `value` is not one exact origin (`scheme://host[:port]`, as a browser sends it in
 * `Origin`), or null when it is one.
 */
export function originProblem(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `"${value}" is not an origin (scheme://host[:port])`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `"${value}" is not an http or https origin`;
  }
  if (url.origin !== value) {
    return `"${value}" is not an exact origin: write it as ${url.origin} (no path, no trailing slash, lower-case host, no default port)`;
  }
  return null;
}

/** Sets the CORS headers of a response; true when it answered the request (a preflight). */
export type CorsHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

export function corsHandler(origins: readonly string[]): CorsHandler {
  if (origins.length === 0) return () => false;
  const allowed = new Set(origins);
  const middleware = cors({
    origin: (origin, callback) =>
      callback(null, origin !== undefined && allowed.has(origin) ? origin : false),
    methods: [...CORS_METHODS],
    allowedHeaders: [...CORS_ALLOWED_HEADERS],
    exposedHeaders: [...CORS_EXPOSED_HEADERS],
    maxAge: CORS_MAX_AGE_SECONDS,
    optionsSuccessStatus: 204,
  });
  return (req, res) => {
    // Whatever the origin, the answer depends on it: a shared cache must keep them apart.
    res.setHeader('vary', 'Origin');
    // With a synchronous origin check the middleware runs to its end before returning: it either
    // answered a preflight or called next (with the origin's headers set when it is allowed).
    let next = false;
    middleware(req, res, () => {
      next = true;
    });
    return !next;
  };
}
