import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as argon2 from 'argon2';
import { findUserByEmail } from '../src/modules/auth/users-repository.ts';
import {
  type AuthTestApp,
  decodePayload,
  login,
  me,
  newUser,
  register,
  startAuthTestApp,
  uniqueEmail,
} from './auth-helpers.ts';

/** Users, auth and the login throttle (docs/api.md), through the real app. */
let t: AuthTestApp;
before(async () => {
  t = await startAuthTestApp('auth');
});
after(() => t?.close());

const PROBLEM = /^application\/problem\+json/;

function assertProblem(res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }, status: number) {
  assert.equal(res.statusCode, status);
  assert.match(String(res.headers['content-type']), PROBLEM);
  const body = res.json() as { status: number; type: string; title: string; detail: string };
  assert.equal(body.status, status);
  assert.equal(typeof body.type, 'string');
  assert.equal(typeof body.detail, 'string');
  return body as typeof body & { field?: string };
}

describe('POST /api/auth/register', () => {
  test('201 with the user (never the hash) and a token; the email is stored lower-cased', async () => {
    const email = uniqueEmail('Mixed').replace('mixed', 'MiXeD').toUpperCase();
    const res = await register(t.app, { name: '  Ada  ', email, password: 'correct horse' });
    assert.equal(res.statusCode, 201);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const { user, token, expires_in } = res.json();
    assert.deepEqual(Object.keys(user).sort(), ['created_at', 'disabled', 'email', 'id', 'name', 'role']);
    assert.equal(user.email, email.toLowerCase());
    assert.equal(user.name, 'Ada');
    assert.equal(user.role, 'user');
    assert.equal(user.disabled, false);
    assert.ok(!Number.isNaN(Date.parse(user.created_at)));
    assert.equal(expires_in, t.deps.config.auth.jwtExpiresInSeconds);
    assert.ok(!res.body.includes('argon2'), 'no hash in the response');
    const who = await me(t.app, token);
    assert.equal(who.statusCode, 200);
    assert.equal(who.json().id, user.id);
  });

  test('the stored password is an argon2id hash, not the password', async () => {
    const { email, password } = await newUser(t.app, 'hash');
    const row = await findUserByEmail(t.deps.database.db, email);
    assert.ok(row);
    assert.notEqual(row.passwordHash, password);
    assert.ok(!row.passwordHash.includes(password));
    assert.match(row.passwordHash, /^\$argon2id\$v=19\$m=\d+,(t=\d+,p=\d+|p=\d+,t=\d+)\$/);
    assert.equal(await argon2.verify(row.passwordHash, password), true);
    assert.equal(await argon2.verify(row.passwordHash, `${password}x`), false);
  });

  test('409 for an email that is taken, in any case', async () => {
    const { email } = await newUser(t.app, 'dup');
    const res = await register(t.app, { name: 'Again', email: email.toUpperCase(), password: 'another password' });
    assertProblem(res, 409);
  });

  const bad: [string, Record<string, unknown>, string][] = [
    ['a password shorter than 8', { name: 'A', email: uniqueEmail(), password: 'short12' }, 'password'],
    ['a malformed email', { name: 'A', email: 'not-an-email', password: 'long enough' }, 'email'],
    ['an unknown field', { name: 'A', email: uniqueEmail(), password: 'long enough', role: 'admin' }, 'role'],
    ['a missing field', { name: 'A', email: uniqueEmail() }, 'password'],
    ['a wrong type', { name: 42, email: uniqueEmail(), password: 'long enough' }, 'name'],
    ['a blank name', { name: '   ', email: uniqueEmail(), password: 'long enough' }, 'name'],
  ];
  for (const [what, body, field] of bad) {
    test(`400 naming \`${field}\` for ${what}`, async () => {
      const res = await register(t.app, body);
      const problem = assertProblem(res, 400);
      assert.equal(problem.field, field);
      assert.match(problem.detail, new RegExp(field));
    });
  }

  test('an unknown `role` field never makes an admin', async () => {
    const email = uniqueEmail('escalate');
    await register(t.app, { name: 'A', email, password: 'long enough', role: 'admin' });
    assert.equal(await findUserByEmail(t.deps.database.db, email), null);
  });

  test('400 for malformed JSON', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/auth/register',
      headers: { 'content-type': 'application/json' },
      payload: '{"name": "A", "email": ',
    });
    assertProblem(res, 400);
  });

  test('415 for a body that is not JSON', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/auth/register',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'name=A&email=a@b.c&password=12345678',
    });
    assertProblem(res, 415);
  });

  test('413 for a body over 1 MiB', async () => {
    const res = await register(t.app, { name: 'A', email: uniqueEmail(), password: 'x'.repeat(1024 * 1024) });
    assertProblem(res, 413);
  });
});

describe('POST /api/auth/login', () => {
  test('200 with the user and a token that expires after the configured time', async () => {
    const { id, email, password } = await newUser(t.app, 'login');
    const res = await login(t.app, email.toUpperCase(), password);
    assert.equal(res.statusCode, 200);
    const { user, token } = res.json();
    assert.equal(user.id, id);
    assert.equal(user.email, email);
    assert.equal(user.password_hash, undefined);
    const claims = decodePayload(token);
    assert.equal(claims.sub, id);
    assert.equal(claims.role, 'user');
    assert.equal(Number(claims.exp) - Number(claims.iat), t.deps.config.auth.jwtExpiresInSeconds);
    assert.equal((await me(t.app, token)).json().id, id);
  });

  test('401 with the same answer for an unknown email and a wrong password', async () => {
    const { email } = await newUser(t.app, 'same');
    const wrongPassword = await login(t.app, email, 'not the password', '10.0.0.1');
    const unknownEmail = await login(t.app, uniqueEmail('ghost'), 'not the password', '10.0.0.1');
    assertProblem(wrongPassword, 401);
    assertProblem(unknownEmail, 401);
    assert.equal(wrongPassword.body, unknownEmail.body);
    assert.equal(wrongPassword.headers['www-authenticate'], unknownEmail.headers['www-authenticate']);
    assert.equal(wrongPassword.headers['content-type'], unknownEmail.headers['content-type']);
  });

  test('400 for a login body with an unknown field', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 'a@b.c', password: 'whatever1', remember: true },
    });
    assert.equal(assertProblem(res, 400).field, 'remember');
  });

  test('429 with Retry-After after 10 failures; another address is not throttled', async () => {
    const { email, password } = await newUser(t.app, 'throttle');
    for (let i = 1; i <= 10; i++) {
      const res = await login(t.app, email, `wrong-${i}`, '10.1.1.1');
      assert.equal(res.statusCode, 401, `failure ${i} is still a 401`);
    }
    // Even the right password is refused now: the attacker must learn nothing.
    const blocked = await login(t.app, email, password, '10.1.1.1');
    assertProblem(blocked, 429);
    const retryAfter = Number(blocked.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter), `Retry-After is whole seconds: ${blocked.headers['retry-after']}`);
    assert.ok(retryAfter > 0 && retryAfter <= 15 * 60, `Retry-After ${retryAfter} is within the window`);
    // Blocked attempts don't extend the block.
    const again = await login(t.app, email, 'wrong-again', '10.1.1.1');
    assert.equal(again.statusCode, 429);
    assert.ok(Number(again.headers['retry-after']) <= retryAfter);

    assert.equal((await login(t.app, email, password, '10.2.2.2')).statusCode, 200, 'another address');
    const other = await newUser(t.app, 'bystander');
    assert.equal((await login(t.app, other.email, other.password, '10.1.1.1')).statusCode, 200, 'another email');
  });

  test('an unknown email is throttled like a known one', async () => {
    const email = uniqueEmail('nobody');
    for (let i = 0; i < 10; i++) assert.equal((await login(t.app, email, 'guess-guess', '10.3.3.3')).statusCode, 401);
    assert.equal((await login(t.app, email, 'guess-guess', '10.3.3.3')).statusCode, 429);
  });

  test('a successful login clears that email and address’s failures', async () => {
    const { email, password } = await newUser(t.app, 'clears');
    for (let i = 0; i < 5; i++) assert.equal((await login(t.app, email, 'wrong-pw', '10.4.4.4')).statusCode, 401);
    assert.equal((await login(t.app, email, password, '10.4.4.4')).statusCode, 200);
    // Without the reset the 6th failure below would already be a 429.
    for (let i = 1; i <= 10; i++) {
      assert.equal((await login(t.app, email, 'wrong-pw', '10.4.4.4')).statusCode, 401, `failure ${i} after success`);
    }
    assert.equal((await login(t.app, email, 'wrong-pw', '10.4.4.4')).statusCode, 429);
  });
});

describe('GET /api/auth/me', () => {
  test('200 with the caller', async () => {
    const { id, email, token } = await newUser(t.app, 'me');
    const res = await me(t.app, token);
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.id, id);
    assert.equal(body.email, email);
    assert.equal(body.role, 'user');
    assert.equal(body.password_hash, undefined);
  });

  test('401 with WWW-Authenticate without a token, or with a non-Bearer scheme', async () => {
    const none = await me(t.app);
    assertProblem(none, 401);
    assert.equal(none.headers['www-authenticate'], 'Bearer');
    const { email, password } = await newUser(t.app, 'basic');
    const basic = await t.app.inject({
      method: 'GET',
      url: '/api/auth/me',
      headers: { authorization: `Basic ${Buffer.from(`${email}:${password}`).toString('base64')}` },
    });
    assertProblem(basic, 401);
  });
});
