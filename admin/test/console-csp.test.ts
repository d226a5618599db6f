import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { seedNote } from '../../api/test/admin-fixtures.ts';
import { type Browser, launchBrowser } from './browser.ts';
import { type ConsoleServer, ensureBuilt, PASSWORD, startConsoleServer } from './support.ts';

/**
 * The console under its Content-Security-Policy (docs/security.md), in headless Chromium against
 * the real API: it logs in, shows the dashboard, refreshes live and opens every list with no
 * CSP violation and no page error; then, playing the attacker, an injected inline or
 * foreign script does not run, and a page on another origin cannot frame the console.
 */
let s: ConsoleServer;
let b: Browser;
let page: Page;
let attacker: http.Server;
/** Violations the page reports (securitypolicyviolation events and Chromium's console lines). */
const violations: string[] = [];

declare global {
  interface Window {
    __cspViolations?: string[];
    __injected?: number;
  }
}

before(async () => {
  ensureBuilt();
  s = await startConsoleServer('consolecsp');
  b = await launchBrowser();
  page = b.page;
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations?.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  page.on('console', (msg) => {
    if (/Content Security Policy|Refused to/i.test(msg.text())) violations.push(msg.text());
  });
  // The attacker's page, on another origin (another port), framing the console.
  attacker = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><title>evil</title><iframe id="victim" src="${s.baseUrl}/admin/"></iframe>`);
  });
  await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
});

after(async () => {
  await b?.close();
  if (attacker) await new Promise((resolve) => attacker.close(resolve));
  await s?.close();
});

const url = (path: string) => `${s.baseUrl}/admin${path}`;
const pageViolations = async () => [...violations, ...(await page.evaluate(() => window.__cspViolations ?? []))];

test('/admin/ is served with the CSP, no framing, nosniff and a referrer policy', async () => {
  const res = await fetch(url('/'));
  assert.equal(res.status, 200);
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.match(csp, /object-src 'none'/);
  assert.doesNotMatch(csp, /script-src[^;]*unsafe/);
  assert.equal(res.headers.get('x-frame-options'), 'DENY');
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
  const asset = /src="(\/admin\/assets\/[^"]+\.js)"/.exec(await res.text())?.[1];
  assert.ok(asset, 'the built index names its script');
  const js = await fetch(`${s.baseUrl}${asset}`);
  assert.equal(js.headers.get('x-content-type-options'), 'nosniff');
  assert.ok(js.headers.get('content-security-policy'));
});

test('the console logs in, shows the dashboard, refreshes live and opens every list under the CSP', async () => {
  await page.goto(url('/'));
  await page.waitForURL(/\/admin\/login$/);
  await page.locator('input[name=email]').fill(s.admin.email);
  await page.locator('input[name=password]').fill(PASSWORD);
  await page.getByRole('button', { name: /sign in/i }).click();
  await page.waitForURL(/\/admin\/?$/);
  const total = page.getByTestId('stat-notes-total');
  await total.waitFor();
  // The figure shows a placeholder until the first stats answer.
  await page.waitForFunction(() =>
    /^\d+$/.test(document.querySelector('[data-testid="stat-notes-total"]')?.textContent ?? ''),
  );
  const before = Number(await total.textContent());
  // Live refresh (EventSource to the same origin) runs under connect-src 'self'.
  await seedNote(s.t.deps.database, s.user.id, { title: 'Written under the CSP' });
  await page.waitForFunction(
    ([n]) => document.querySelector('[data-testid="stat-notes-total"]')?.textContent === String(n),
    [before + 1],
    { timeout: 15_000 },
  );
  // Each list renders its rows, or its empty state (no jobs and no dead letters were seeded).
  const shows: [string, string | RegExp][] = [
    ['/notes', 'Written under the CSP'],
    ['/jobs', /^No .*(yet\.?|found)$/],
    ['/dlq', /^No .*(yet\.?|found)$/],
    ['/users', s.admin.email],
  ];
  for (const [list, text] of shows) {
    await page.goto(url(list));
    await page.getByText(text).first().waitFor();
  }
  await b.screenshot('csp-notes');
  assert.deepEqual(await pageViolations(), [], 'no CSP violations');
  assert.deepEqual(b.errors, [], 'no page errors');
});

test('an injected inline or foreign script does not run (the XSS that would read the token)', async () => {
  const ran = await page.evaluate(async () => {
    const inline = document.createElement('script');
    inline.textContent = 'window.__injected = 1';
    document.body.appendChild(inline);
    const foreign = document.createElement('script');
    foreign.src = 'http://127.0.0.2:9/steal.js';
    document.body.appendChild(foreign);
    const handler = document.createElement('img');
    handler.setAttribute('onerror', 'window.__injected = 2');
    handler.src = 'data:,not-an-image';
    document.body.appendChild(handler);
    await new Promise((r) => setTimeout(r, 500));
    return window.__injected ?? null;
  });
  assert.equal(ran, null);
  const seen = await page.evaluate(() => window.__cspViolations ?? []);
  assert.ok(
    seen.some((v) => v.startsWith('script-src')),
    `violations reported: ${seen.join('; ')}`,
  );
});

test('another origin cannot frame the console', async () => {
  const evil = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`;
  const framed = await b.context.newPage();
  const refused: string[] = [];
  framed.on('console', (msg) => refused.push(msg.text()));
  await framed.goto(evil);
  await framed.waitForTimeout(1500);
  const frame = framed.frames().find((f) => f !== framed.mainFrame());
  const rendered = frame
    ? await frame
        .locator('#root')
        .count()
        .catch(() => 0)
    : 0;
  assert.equal(rendered, 0, 'the console did not render inside the frame');
  assert.ok(
    refused.some((m) => /frame-ancestors|X-Frame-Options|Refused to display/i.test(m)) ||
      !frame?.url().includes('/admin'),
    `the browser refused the frame: ${refused.join(' | ')}; frame url ${frame?.url()}`,
  );
  await framed.close();
});
