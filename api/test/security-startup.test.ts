import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createTestNamespace, freePort, type TestNamespace } from '@notes/contracts/testing';
import { type Service, spawnService } from './otlp-sink.ts';

/**
 * Start-up as an attacker would like it (docs/security.md), on the real API process (main.ts):
 * the committed development secrets are refused wherever strangers can reach the API, and the
 * bootstrap admin cannot be hijacked by registering its address first.
 */
const API_DIR = fileURLToPath(new URL('..', import.meta.url));
const CONSUMERS_DIR = fileURLToPath(new URL('../../consumers', import.meta.url));
const SOURCE = ['--import', 'tsx', 'src/main.ts'];

let ns: TestNamespace;
const running: Service[] = [];
before(async () => {
  ns = await createTestNamespace('secstart');
});
after(async () => {
  await Promise.all(running.map((s) => s.stop()));
  await ns?.cleanup();
});

type Outcome = { exited: true; code: number | null; output: string } | { exited: false; url: string; api: Service };

/** Starts the API; resolves when it exits or answers /health/ready. */
async function startApi(env: Record<string, string>, dir = API_DIR): Promise<Outcome> {
  const port = await freePort();
  const api = spawnService(dir, { ...ns.env, PORT: String(port), CONSUMER_PORT: '0', ...env }, SOURCE);
  running.push(api);
  const url = `http://127.0.0.1:${port}`;
  const exited = once(api, 'exit');
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (api.exitCode !== null) break;
    const ok = await fetch(`${url}/health/ready`)
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ok) return { exited: false, url, api };
    await Promise.race([exited, sleep(200)]);
  }
  if (api.exitCode === null) {
    await api.stop();
    throw new Error(`neither ready nor exited:\n${api.output().slice(-2000)}`);
  }
  return { exited: true, code: api.exitCode, output: api.output() };
}

function assertRefused(outcome: Outcome, variable: RegExp): void {
  if (!outcome.exited) {
    void outcome.api.stop();
    assert.fail(`the process started (${outcome.url}); it must refuse`);
  }
  assert.equal(outcome.code, 1, outcome.output);
  assert.match(outcome.output, variable);
}

describe('development secrets stay on loopback', () => {
  test('HOST=0.0.0.0 without JWT_SECRET: the API exits naming JWT_SECRET, whatever NODE_ENV says', async () => {
    for (const NODE_ENV of ['development', 'test']) {
      assertRefused(await startApi({ NODE_ENV, HOST: '0.0.0.0' }), /JWT_SECRET/);
    }
  });

  test('HOST=0.0.0.0 with JWT_SECRET but no SERVICE_PUBLIC_KEYS: exits naming SERVICE_PUBLIC_KEYS', async () => {
    const outcome = await startApi({ HOST: '0.0.0.0', JWT_SECRET: randomBytes(24).toString('hex') });
    assertRefused(outcome, /SERVICE_PUBLIC_KEYS/);
  });

  test('NODE_ENV=production on loopback without JWT_SECRET: exits naming it', async () => {
    assertRefused(await startApi({ NODE_ENV: 'production', HOST: '127.0.0.1' }), /JWT_SECRET/);
  });

  test('a production consumer without SERVICE_PRIVATE_KEY exits naming it', async () => {
    assertRefused(await startApi({ NODE_ENV: 'production' }, CONSUMERS_DIR), /SERVICE_PRIVATE_KEY/);
  });

  test('on loopback the development defaults still start, with a warning (zero setup)', async () => {
    const outcome = await startApi({ HOST: '127.0.0.1', LOG_LEVEL: 'warn' });
    assert.equal(outcome.exited, false);
    if (outcome.exited) return;
    await outcome.api.stop();
    assert.match(outcome.api.output(), /JWT_SECRET is not set/);
    assert.match(outcome.api.output(), /SERVICE_PUBLIC_KEYS is not set/);
  });
});

describe('the bootstrap admin', () => {
  test('registering ADMIN_EMAIL first gets the attacker nothing; promoting needs ADMIN_PROMOTE_EXISTING and revokes', async () => {
    const email = `ops-${randomBytes(3).toString('hex')}@example.test`;
    const attackerPassword = 'attacker-password';
    const first = await startApi({});
    assert.equal(first.exited, false);
    if (first.exited) return;
    const reg = await fetch(`${first.url}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Squatter', email, password: attackerPassword }),
    });
    assert.equal(reg.status, 201);
    const attackerToken = ((await reg.json()) as { token: string }).token;
    await first.api.stop();

    // The operator now puts that address (in any case) in ADMIN_EMAIL: start-up refuses, loudly.
    const admin = { ADMIN_EMAIL: email.toUpperCase(), ADMIN_PASSWORD: 'operator-password' };
    const refused = await startApi(admin);
    assertRefused(refused, /ADMIN_PROMOTE_EXISTING/);
    assert.ok(!refused.exited || refused.output.includes(email), 'the message names the account');

    const plain = await startApi({});
    assert.equal(plain.exited, false);
    if (plain.exited) return;
    const users = (token: string) =>
      fetch(`${plain.url}/api/admin/users`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
    assert.equal(await users(attackerToken), 403, 'still a plain user');
    await plain.api.stop();

    // The operator checked the account and says so: promoted, and the squatter's token is dead.
    const promoted = await startApi({ ...admin, ADMIN_PROMOTE_EXISTING: 'true' });
    assert.equal(promoted.exited, false);
    if (promoted.exited) return;
    const status = (token: string) =>
      fetch(`${promoted.url}/api/admin/users`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
    assert.equal(await status(attackerToken), 401);
    const login = (password: string) =>
      fetch(`${promoted.url}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password }),
      });
    assert.equal((await login(attackerPassword)).status, 401, 'the squatter password is gone');
    const ok = await login('operator-password');
    assert.equal(ok.status, 200);
    assert.equal(await status(((await ok.json()) as { token: string }).token), 200);
    await promoted.api.stop();
  });
});
