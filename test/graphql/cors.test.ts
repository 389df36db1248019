/**
 * Browser apps on other origins: CORS on /graphql over real HTTP, for an allowed origin, for any
 * other origin, and with no origin configured.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

const APP = 'http://localhost:5173';
const OTHER = 'http://evil.example';
const QUERY = '{ __typename }';

function accessControl(res: Response): Record<string, string> {
  const found: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    if (name.startsWith('access-control-')) found[name] = value;
  });
  return found;
}

function preflight(url: string, origin: string, method = 'POST'): Promise<Response> {
  return fetch(url, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': method,
      'access-control-request-headers': 'authorization,content-type',
    },
  });
}

function post(url: string, origin: string, key: string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { origin, 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: QUERY }),
  });
}

describe('CORS with CORS_ORIGINS set', () => {
  let gw: TestGateway;
  let key: string;

  beforeAll(async () => {
    gw = await startTestGateway({ CORS_ORIGINS: `${APP},https://admin.example.com` });
    ({ key } = await gw.newWorkspace());
  });
  afterAll(() => gw.close());

  it('answers the preflight of an allowed origin with 204, the origin, methods, headers and a max age', async () => {
    const res = await preflight(gw.url, APP);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(res.headers.get('vary')).toMatch(/\bOrigin\b/);
    const methods = res.headers.get('access-control-allow-methods')!.split(',');
    expect(methods.map((m) => m.trim())).toEqual(['GET', 'POST', 'OPTIONS']);
    const headers = res.headers.get('access-control-allow-headers')!.split(',');
    expect(headers.map((h) => h.trim())).toEqual(
      expect.arrayContaining([
        'authorization',
        'content-type',
        'apollo-require-preflight',
        'x-apollo-operation-name',
        'x-request-id',
      ]),
    );
    expect(Number(res.headers.get('access-control-max-age'))).toBeGreaterThan(0);
    // No cookies are involved: the key travels in a header.
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('gives the actual response the origin, and lets the page read the request id', async () => {
    const res = await post(gw.url, APP, key);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: unknown }).data).toEqual({ __typename: 'Query' });
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(res.headers.get('vary')).toMatch(/\bOrigin\b/);
    expect(res.headers.get('access-control-expose-headers')).toContain('x-request-id');
  });

  it('sends no Access-Control header at all to an origin not on the list', async () => {
    const pre = await preflight(gw.url, OTHER);
    expect(pre.status).toBe(204);
    expect(accessControl(pre)).toEqual({});
    expect(pre.headers.get('vary')).toMatch(/\bOrigin\b/);
    const res = await post(gw.url, OTHER, key);
    expect(accessControl(res)).toEqual({});
    // An origin differing only in scheme or port is another origin.
    expect(accessControl(await preflight(gw.url, 'https://localhost:5173'))).toEqual({});
    expect(accessControl(await preflight(gw.url, 'http://localhost:5174'))).toEqual({});
  });

  it('keeps CSRF prevention on for allowed origins: a simple GET is refused', async () => {
    const res = await fetch(`${gw.url}?query=${encodeURIComponent(QUERY)}`, {
      headers: { origin: APP, authorization: `Bearer ${key}` },
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/CSRF/);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    // With the header Apollo asks for, the same GET is answered.
    const ok = await fetch(`${gw.url}?query=${encodeURIComponent(QUERY)}`, {
      headers: { origin: APP, authorization: `Bearer ${key}`, 'apollo-require-preflight': 'true' },
    });
    expect(ok.status).toBe(200);
  });

  it('applies to /graphql only', async () => {
    const res = await fetch(gw.url.replace('/graphql', '/healthz'), { headers: { origin: APP } });
    expect(res.status).toBe(200);
    expect(accessControl(res)).toEqual({});
  });
});

describe('CORS without CORS_ORIGINS', () => {
  let gw: TestGateway;
  let key: string;

  beforeAll(async () => {
    gw = await startTestGateway();
    ({ key } = await gw.newWorkspace());
  });
  afterAll(() => gw.close());

  it('allows no origin', async () => {
    const pre = await preflight(gw.url, APP);
    expect(pre.status).toBe(204);
    expect(pre.headers.get('allow')).toBe('GET, POST, OPTIONS');
    expect(accessControl(pre)).toEqual({});
    const res = await post(gw.url, APP, key);
    expect(res.status).toBe(200);
    expect(accessControl(res)).toEqual({});
  });

  it('answers a plain OPTIONS, with or without a body, with what /graphql accepts', async () => {
    for (const body of [undefined, JSON.stringify({ query: QUERY })]) {
      const res = await fetch(gw.url, { method: 'OPTIONS', body });
      expect(res.status).toBe(204);
      expect(res.headers.get('allow')).toBe('GET, POST, OPTIONS');
      expect(await res.text()).toBe('');
    }
  });
});
