import { existsSync } from 'node:fs';

import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { anEvent } from '../helpers/builders.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

const CHROMIUM = '/usr/bin/chromium';
// CI installs Chromium (.ci/run) and must run this test; elsewhere it needs the Debian package.
const runnable = existsSync(CHROMIUM) || process.env['CI'] === 'true';

let gw: TestGateway;
let browser: Browser;
beforeAll(async () => {
  if (!runnable) return;
  gw = await startTestGateway();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});
afterAll(async () => {
  await browser?.close();
  await gw?.close();
});

describe.runIf(runnable)('the playground in a browser', () => {
  it('loads with no network beyond the gateway, takes a key in the Headers tab and runs a query', async () => {
    const { key } = await gw.newWorkspace();
    await gw.gql(key, `mutation ($i: TrackUsersInput!) { trackUsers(input: $i) { message } }`, {
      i: { events: [{ externalId: 'user-42', ...anEvent() }] },
    });
    const page = await browser.newPage();
    const gateway = new URL(gw.url).host;
    const elsewhere: string[] = [];
    await page.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.host === gateway) return route.continue();
      elsewhere.push(url.toString());
      return route.abort();
    });
    const response = await page.goto(gw.url, { waitUntil: 'load' });
    expect(response?.status()).toBe(200);
    await page.waitForSelector('.graphiql-container', { timeout: 20_000 });

    // As a person would: type the query, then the key into the Headers tab.
    await page.click('.graphiql-query-editor .CodeMirror');
    await page.keyboard.press('Control+A');
    await page.keyboard.type(
      '{ profile(by: { externalId: "user-42" }) { externalId events { name count } } }',
    );
    await page.click('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror');
    await page.keyboard.press('Control+A');
    await page.keyboard.type(`{ "Authorization": "Bearer ${key}" }`);
    await page.click('.graphiql-execute-button');
    await page.locator('.result-window', { hasText: 'viewed_page' }).waitFor({ timeout: 20_000 });
    const result = await page.textContent('.result-window');
    expect(result).toContain('"externalId": "user-42"');
    expect(elsewhere).toEqual([]);
    await page.close();
  }, 60_000);

  it("shows the schema's documentation before a key is entered, with no error, and says where the key goes", async () => {
    const page = await browser.newPage();
    const statuses: number[] = [];
    page.on('response', (r) => {
      if (new URL(r.url()).pathname === '/graphql' && r.request().method() === 'POST') {
        statuses.push(r.status());
      }
    });
    await page.goto(gw.url, { waitUntil: 'load' });
    await page.waitForSelector('.graphiql-container', { timeout: 20_000 });
    // The starting query tells the reader where the key goes.
    const editor = await page.textContent('.graphiql-query-editor');
    expect(editor).toContain('Headers tab');
    await page.click('button[aria-label="Show Documentation Explorer"]');
    await page
      .locator('.graphiql-doc-explorer', { hasText: 'subscription: Subscription' })
      .waitFor({ timeout: 20_000 });
    // A type's page shows its description.
    await page.click('.graphiql-doc-explorer a:text-is("Query")');
    await page
      .locator('.graphiql-doc-explorer', { hasText: 'Reads of the caller' })
      .waitFor({ timeout: 20_000 });
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(await page.textContent('.result-window')).not.toMatch(/error|UNAUTHENTICATED|\{/i);
    await page.close();
  }, 60_000);

  it('runs a subscription over the socket with the key of the Headers tab', async () => {
    const { key, workspaceId } = await gw.newWorkspace();
    const track = `mutation ($i: TrackUsersInput!) { trackUsers(input: $i) { message } }`;
    await gw.gql(key, track, { i: { events: [{ externalId: 'user-7', ...anEvent() }] } });
    const page = await browser.newPage();
    await page.goto(gw.url, { waitUntil: 'load' });
    await page.waitForSelector('.graphiql-container', { timeout: 20_000 });
    await page.click('.graphiql-query-editor .CodeMirror');
    await page.keyboard.press('Control+A');
    await page.keyboard.type(
      'subscription { profileChanged(by: { externalId: "user-7" }) { externalId events { name count } } }',
    );
    await page.click('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror');
    await page.keyboard.press('Control+A');
    await page.keyboard.type(`{ "Authorization": "Bearer ${key}" }`);
    await page.click('.graphiql-execute-button');
    for (let i = 0; gw.gateway.services.live.listenerCount(workspaceId) < 1; i++) {
      if (i === 500) throw new Error('the playground never subscribed');
      await new Promise((r) => setTimeout(r, 20));
    }
    await gw.gql(key, track, { i: { events: [{ externalId: 'user-7', ...anEvent() }] } });
    await page.locator('.result-window', { hasText: '"count": 2' }).waitFor({ timeout: 20_000 });
    expect(await page.textContent('.result-window')).toContain('"externalId": "user-7"');
    await page.close();
  }, 60_000);

  it('is not served when the playground is off (production default)', async () => {
    const off = await startTestGateway({ NODE_ENV: 'production' });
    try {
      const res = await fetch(off.url, { headers: { accept: 'text/html' } });
      expect(await res.text()).not.toContain('graphiql');
      expect((await fetch(off.url.replace('/graphql', '/playground/graphiql.js'))).status).toBe(
        404,
      );
    } finally {
      await off.close();
    }
  });
});
