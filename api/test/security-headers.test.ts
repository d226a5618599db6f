import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers.ts';
import { call, newUser } from './notes-fixtures.ts';

/** Every answer carries the security headers (docs/security.md), successes and problems alike. */
let t: TestApp;
before(async () => {
  t = await startTestApp('sechead');
});
after(() => t?.close());

const CSP =
  "default-src 'self';script-src 'self';style-src 'self' 'unsafe-inline';img-src 'self' data:;" +
  "font-src 'self' data:;connect-src 'self';object-src 'none';base-uri 'self';form-action 'self';" +
  "frame-ancestors 'none'";

test('a write, a read, a problem and a health check carry the same headers', async () => {
  const user = await newUser(t, 'sec');
  const answers = [
    await call(t, user, 'POST', '/api/notes', { title: 'headers' }),
    await call(t, user, 'GET', '/api/notes'),
    await call(t, user, 'POST', '/api/notes', { title: '' }),
    await call(t, null, 'GET', '/api/notes'),
    await t.app.inject({ method: 'GET', url: '/health' }),
  ];
  assert.deepEqual(
    answers.map((r) => r.statusCode),
    [201, 200, 400, 401, 200],
  );
  for (const res of answers) {
    assert.equal(res.headers['content-security-policy'], CSP);
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['referrer-policy'], 'no-referrer');
    assert.equal(res.headers['cross-origin-opener-policy'], 'same-origin');
  }
});
