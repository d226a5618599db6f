import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SERVICE_SUBJECT, signServiceToken } from '@notes/contracts';
import { updateUser } from '../src/modules/auth/users-repository.ts';
import { users } from '../src/platform/db/schema.ts';
import {
  ADMIN_EMAIL,
  ADMIN_PASSWORD,
  ADMIN_PROBE,
  type AuthTestApp,
  craftToken,
  INTERNAL_PROBE,
  login,
  me,
  newUser,
  nowSeconds,
  startAuthTestApp,
} from './auth-helpers.ts';
import { deleteRows } from './db-fixtures.ts';

/**
 * Tokens and roles (docs/api.md): what gets a 401, what gets a 403. The probe routes are
 * guarded by the real app.requireRole, so these test the guard every admin/internal route uses.
 */
let t: AuthTestApp;
let secret: string;
before(async () => {
  t = await startAuthTestApp('authtok');
  secret = t.deps.config.auth.jwtSecret;
});
after(() => t?.close());

const HS256 = { alg: 'HS256', typ: 'JWT' };
const get = (url: string, token?: string) =>
  t.app.inject({ method: 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {} });

function assert401(res: { statusCode: number; headers: Record<string, unknown>; json(): { status: number } }) {
  assert.equal(res.statusCode, 401);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  assert.equal(res.headers['www-authenticate'], 'Bearer');
  assert.equal(res.json().status, 401);
}

describe('tokens', () => {
  test('a hand-made HS256 token with the right secret works (the 401s below are real)', async () => {
    const { id } = await newUser(t.app, 'craft');
    const token = craftToken(
      HS256,
      { sub: id, role: 'user', tv: 0, iat: nowSeconds(), exp: nowSeconds() + 60 },
      secret,
    );
    const res = await me(t.app, token);
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().id, id);
  });

  test('401 for an expired token', async () => {
    const { id } = await newUser(t.app, 'expired');
    const token = craftToken(
      HS256,
      { sub: id, role: 'user', tv: 0, iat: nowSeconds() - 120, exp: nowSeconds() - 60 },
      secret,
    );
    assert401(await me(t.app, token));
  });

  test('401 for a tampered token: changed claims, or a changed signature', async () => {
    const { id, token } = await newUser(t.app, 'tamper');
    const [header, , signature] = token.split('.');
    const claims = { sub: id, role: 'admin', iat: nowSeconds(), exp: nowSeconds() + 600 };
    const escalated = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    assert401(await get(ADMIN_PROBE, escalated));
    // The first character of the signature carries 6 full bits: changing it changes the bytes.
    const sig = signature ?? '';
    const flipped = `${token.slice(0, token.length - sig.length)}${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
    assert401(await me(t.app, flipped));
    assert.equal((await me(t.app, token)).statusCode, 200, 'the untouched token still works');
  });

  test('401 for a token signed with another secret', async () => {
    const { id } = await newUser(t.app, 'othersecret');
    const token = craftToken(HS256, { sub: id, role: 'user', tv: 0, exp: nowSeconds() + 60 }, 'x'.repeat(40));
    assert401(await me(t.app, token));
  });

  test('401 for `alg: none`', async () => {
    const { id } = await newUser(t.app, 'none');
    const claims = { sub: id, role: 'user', tv: 0, iat: nowSeconds(), exp: nowSeconds() + 600 };
    assert401(await me(t.app, craftToken({ alg: 'none', typ: 'JWT' }, claims, null)));
    assert401(await me(t.app, craftToken({ alg: 'none', typ: 'JWT' }, claims, secret)));
  });

  test('401 for another algorithm, even with the right secret (HS512)', async () => {
    const { id } = await newUser(t.app, 'hs512');
    const claims = { sub: id, role: 'user', tv: 0, iat: nowSeconds(), exp: nowSeconds() + 600 };
    assert401(await me(t.app, craftToken({ alg: 'HS512', typ: 'JWT' }, claims, secret, 'sha512')));
  });

  test('401 for a garbage token and a token without a subject', async () => {
    assert401(await me(t.app, 'not.a.jwt'));
    assert401(await me(t.app, craftToken(HS256, { role: 'user', tv: 0, exp: nowSeconds() + 60 }, secret)));
  });

  test('401 for a service role on anything but the service subject', async () => {
    const token = craftToken(HS256, { sub: 'someone', role: 'service', exp: nowSeconds() + 60 }, secret);
    assert401(await get(INTERNAL_PROBE, token));
  });

  test("a disabled user's token stops working, and so does their login", async () => {
    const { id, email, password, token } = await newUser(t.app, 'disabled');
    assert.equal((await me(t.app, token)).statusCode, 200);
    await updateUser(t.deps.database.writer, id, { disabled: true });
    t.app.forgetUserState(id);
    assert401(await me(t.app, token));
    assert401(await login(t.app, email, password));
    await updateUser(t.deps.database.writer, id, { disabled: false });
    t.app.forgetUserState(id);
    assert.equal((await me(t.app, token)).statusCode, 200, 're-enabled');
    assert.equal((await login(t.app, email, password)).statusCode, 200);
  });

  test("a disabled user's token stops working within about a second even without forgetUserState", async () => {
    const { id, token } = await newUser(t.app, 'disabledlate');
    assert.equal((await me(t.app, token)).statusCode, 200);
    await updateUser(t.deps.database.writer, id, { disabled: true });
    await new Promise((r) => setTimeout(r, 1100));
    assert401(await me(t.app, token));
  });

  test("a deleted user's token is a 401", async () => {
    const { id, token } = await newUser(t.app, 'deleted');
    await deleteRows(t.deps.database, users, { id });
    t.app.forgetUserState(id);
    assert401(await me(t.app, token));
  });

  test('GET /api/auth/me with a service token answers the service identity', async () => {
    const res = await me(t.app, signServiceToken(t.deps.config.service.privateKey));
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { id: SERVICE_SUBJECT, role: 'service' });
  });
});

describe('roles', () => {
  let userToken: string;
  let adminToken: string;
  let serviceToken: string;
  before(async () => {
    userToken = (await newUser(t.app, 'role')).token;
    const res = await login(t.app, ADMIN_EMAIL, ADMIN_PASSWORD);
    assert.equal(res.statusCode, 200);
    adminToken = res.json().token;
    serviceToken = signServiceToken(t.deps.config.service.privateKey);
  });

  test('an admin route: 401 without a token, 403 for a user or the service, 200 for an admin', async () => {
    assert401(await get(ADMIN_PROBE));
    for (const token of [userToken, serviceToken]) {
      const res = await get(ADMIN_PROBE, token);
      assert.equal(res.statusCode, 403);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    }
    const ok = await get(ADMIN_PROBE, adminToken);
    assert.equal(ok.statusCode, 200);
    assert.deepEqual(ok.json(), { role: 'admin' });
  });

  test('an internal route: 401 without a token, 403 for a user or an admin, 200 for the service', async () => {
    assert401(await get(INTERNAL_PROBE));
    for (const token of [userToken, adminToken]) {
      const res = await get(INTERNAL_PROBE, token);
      assert.equal(res.statusCode, 403);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    }
    const ok = await get(INTERNAL_PROBE, serviceToken);
    assert.equal(ok.statusCode, 200);
    assert.deepEqual(ok.json(), { role: 'service' });
  });

  test('the role in the database wins over the one in the token (a demoted admin gets 403)', async () => {
    const promoted = await newUser(t.app, 'promoted');
    await updateUser(t.deps.database.writer, promoted.id, { role: 'admin' });
    t.app.forgetUserState(promoted.id);
    // The token was issued while a user; the database now says admin.
    assert.equal((await get(ADMIN_PROBE, promoted.token)).statusCode, 200);
    await updateUser(t.deps.database.writer, promoted.id, { role: 'user' });
    t.app.forgetUserState(promoted.id);
    assert.equal((await get(ADMIN_PROBE, promoted.token)).statusCode, 403);
  });
});
