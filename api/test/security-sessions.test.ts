import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@notes/contracts/testing';
import { type App, buildApp } from '../src/app.ts';
import { createDeps } from '../src/wiring.ts';
import {
  ADMIN_EMAIL,
  ADMIN_PASSWORD,
  ADMIN_PROBE,
  type AuthTestApp,
  craftToken,
  login,
  me,
  newUser,
  nowSeconds,
  startAuthTestApp,
} from './auth-helpers.ts';

/**
 * Revocable sessions (docs/security.md), played as someone who stole a token: a password change,
 * logging out everywhere, a disable or a role change makes every earlier token a 401, on this
 * instance at once and on another instance within its state cache's second.
 */
let t: AuthTestApp;
let adminToken: string;
before(async () => {
  t = await startAuthTestApp('secsess', { AUTH_ADDRESS_RATE_PER_MINUTE: '0' });
  adminToken = (await login(t.app, ADMIN_EMAIL, ADMIN_PASSWORD)).json().token;
});
after(() => t?.close());

const post = (url: string, token: string, payload?: Record<string, unknown>) =>
  t.app.inject({
    method: 'POST',
    url,
    headers: { authorization: `Bearer ${token}` },
    ...(payload === undefined ? {} : { payload }),
  });
const patchUser = (id: string, payload: Record<string, unknown>) =>
  t.app.inject({
    method: 'PATCH',
    url: `/api/admin/users/${id}`,
    headers: { authorization: `Bearer ${adminToken}` },
    payload,
  });

describe('POST /api/auth/password', () => {
  test('the stolen token and the old password stop working; the new ones work', async () => {
    const u = await newUser(t.app, 'pw');
    const stolen = (await login(t.app, u.email, u.password)).json().token as string;
    const res = await post('/api/auth/password', u.token, {
      current_password: u.password,
      new_password: 'brand-new-pass',
    });
    assert.equal(res.statusCode, 200, res.body);
    const fresh = res.json().token as string;
    assert.equal((await me(t.app, stolen)).statusCode, 401);
    assert.equal((await me(t.app, u.token)).statusCode, 401, 'the token that made the change too');
    assert.equal((await me(t.app, fresh)).statusCode, 200);
    assert.equal((await login(t.app, u.email, u.password)).statusCode, 401);
    assert.equal((await login(t.app, u.email, 'brand-new-pass')).statusCode, 200);
  });

  test('a wrong current password is a 400 that changes nothing and counts as a failed login', async () => {
    const u = await newUser(t.app, 'pwwrong');
    const wrong = await post('/api/auth/password', u.token, {
      current_password: 'guess',
      new_password: 'attacker-pass',
    });
    assert.equal(wrong.statusCode, 400);
    assert.equal(wrong.json().field, 'current_password');
    assert.equal((await me(t.app, u.token)).statusCode, 200, 'nothing was revoked');
    assert.equal((await login(t.app, u.email, u.password)).statusCode, 200, 'nor changed');
    // With a stolen token, guessing the current password is still throttled (the login above
    // cleared the first failure: ten more).
    for (let i = 0; i < 10; i++) {
      await post('/api/auth/password', u.token, { current_password: `guess-${i}`, new_password: 'attacker-pass' });
    }
    const blocked = await post('/api/auth/password', u.token, {
      current_password: u.password,
      new_password: 'x'.repeat(9),
    });
    assert.equal(blocked.statusCode, 429);
  });

  test('bad bodies are 400s naming the field; no token is a 401', async () => {
    const u = await newUser(t.app, 'pwbad');
    const short = await post('/api/auth/password', u.token, { current_password: u.password, new_password: 'short' });
    assert.equal(short.statusCode, 400);
    assert.match(short.json().detail, /new_password/);
    const extra = await post('/api/auth/password', u.token, {
      current_password: u.password,
      new_password: 'long-enough',
      x: 1,
    });
    assert.equal(extra.statusCode, 400);
    const anon = await t.app.inject({ method: 'POST', url: '/api/auth/password', payload: {} });
    assert.equal(anon.statusCode, 401);
  });
});

describe('POST /api/auth/logout-all', () => {
  test('every token of the account stops working, and logging in again works', async () => {
    const u = await newUser(t.app, 'out');
    const other = (await login(t.app, u.email, u.password, '10.9.0.1')).json().token as string;
    const res = await post('/api/auth/logout-all', u.token);
    assert.equal(res.statusCode, 204);
    assert.equal((await me(t.app, u.token)).statusCode, 401);
    assert.equal((await me(t.app, other)).statusCode, 401);
    assert.equal((await post('/api/auth/logout-all', u.token)).statusCode, 401, 'a revoked token cannot act');
    const again = (await login(t.app, u.email, u.password)).json().token as string;
    assert.equal((await me(t.app, again)).statusCode, 200);
  });
});

describe('admin actions revoke', () => {
  test('a disable revokes for good: re-enabling does not bring the old token back', async () => {
    const u = await newUser(t.app, 'dis');
    assert.equal((await patchUser(u.id, { disabled: true })).statusCode, 200);
    assert.equal((await me(t.app, u.token)).statusCode, 401);
    assert.equal((await patchUser(u.id, { disabled: false })).statusCode, 200);
    assert.equal((await me(t.app, u.token)).statusCode, 401);
    assert.equal((await login(t.app, u.email, u.password)).statusCode, 200);
  });

  test('a role change revokes: the token from before a promotion never reaches admin routes', async () => {
    const u = await newUser(t.app, 'role');
    assert.equal((await patchUser(u.id, { role: 'admin' })).statusCode, 200);
    const probe = await t.app.inject({
      method: 'GET',
      url: ADMIN_PROBE,
      headers: { authorization: `Bearer ${u.token}` },
    });
    assert.equal(probe.statusCode, 401);
    const fresh = (await login(t.app, u.email, u.password)).json().token as string;
    const ok = await t.app.inject({ method: 'GET', url: ADMIN_PROBE, headers: { authorization: `Bearer ${fresh}` } });
    assert.equal(ok.statusCode, 200);
  });

  test('a token without a token version (the format before revocation) is refused', async () => {
    const u = await newUser(t.app, 'notv');
    const secret = t.deps.config.auth.jwtSecret;
    const old = craftToken({ alg: 'HS256', typ: 'JWT' }, { sub: u.id, role: 'user', exp: nowSeconds() + 600 }, secret);
    assert.equal((await me(t.app, old)).statusCode, 401);
  });
});

describe('across instances', () => {
  let second: { app: App; close(): Promise<void> };
  before(async () => {
    const deps = await createDeps(t.deps.config);
    const app = await buildApp(deps);
    await app.ready();
    second = {
      app,
      async close() {
        await app.close();
        await deps.close();
      },
    };
  });
  after(() => second?.close());

  test('a logout-all on one instance reaches another within its state cache (about a second)', async () => {
    const u = await newUser(t.app, 'multi');
    assert.equal((await me(second.app, u.token)).statusCode, 200, 'the other instance has it cached now');
    assert.equal((await post('/api/auth/logout-all', u.token)).statusCode, 204);
    await waitFor(
      'the other instance to refuse the token',
      async () => (await me(second.app, u.token)).statusCode === 401,
      10_000,
    );
  });
});
