import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startFaultProxy } from '@notes/contracts/testing';
import { users } from '../src/platform/db/schema.ts';
import { insertRows } from './db-fixtures.ts';
import { startTestApp, type TestApp } from './helpers.ts';

/** Errors raised outside our handlers still answer RFC 9457 problem details. */
let t: TestApp;
let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
let token: string;

before(async () => {
  proxy = await startFaultProxy(3306);
  // The app reaches MariaDB only through the proxy, so cutting it is a database outage for this app alone.
  t = await startTestApp('errors', (ns) => ({
    DATABASE_URL: ns.databaseUrl.replace('127.0.0.1:3306', `127.0.0.1:${proxy.port}`),
  }));
  const now = new Date();
  const id = crypto.randomUUID();
  await insertRows(t.deps.database, users, {
    id,
    email: `${id}@example.test`,
    name: 'e',
    passwordHash: 'x',
    createdAt: now,
    updatedAt: now,
  });
  token = t.app.signToken({ id, role: 'user' });
});
after(async () => {
  proxy?.restore();
  await t?.close();
  await proxy?.close();
});

const isProblem = (res: { headers: Record<string, unknown> }) =>
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);

test('a malformed percent-encoding is a 400 problem', async () => {
  const res = await t.app.inject({ method: 'GET', url: '/api/notes/%E0%A4%A' });
  assert.equal(res.statusCode, 400);
  isProblem(res);
});

test('an over-long path segment is a 414 problem', async () => {
  const res = await t.app.inject({ method: 'GET', url: `/api/notes/${'x'.repeat(500)}` });
  assert.equal(res.statusCode, 414);
  isProblem(res);
  assert.equal(res.json().status, 414);
});

test('a content-encoded body is a 415 problem and writes nothing', async () => {
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/notes',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-encoding': 'gzip' },
    payload: '{"title":"encoded?"}',
  });
  assert.equal(res.statusCode, 415);
  isProblem(res);
  const list = await t.app.inject({ method: 'GET', url: '/api/notes', headers: { authorization: `Bearer ${token}` } });
  assert.equal(list.json().total, 0);
});

test('with the database unreachable, requests answer 503 with Retry-After, never 500', async () => {
  proxy.cut();
  t.app.forgetUserState(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sub);
  try {
    for (const req of [
      { method: 'GET' as const, url: '/api/notes' },
      { method: 'POST' as const, url: '/api/notes', payload: { title: 'during the outage' } },
    ]) {
      const res = await t.app.inject({
        ...req,
        headers: { authorization: `Bearer ${token}`, 'idempotency-key': 'k1' },
      });
      assert.equal(res.statusCode, 503, `${req.method} ${req.url}: ${res.body}`);
      assert.ok(res.headers['retry-after'], 'Retry-After');
      isProblem(res);
    }
    const ready = await t.app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(ready.statusCode, 503);
  } finally {
    proxy.restore();
  }
  const back = await t.app.inject({
    method: 'POST',
    url: '/api/notes',
    headers: { authorization: `Bearer ${token}` },
    payload: { title: 'after the outage' },
  });
  assert.equal(back.statusCode, 201);
});
