import assert from 'node:assert/strict';
import { sign } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  generateServiceKeyPair,
  SERVICE_SUBJECT,
  serviceKeyId,
  servicePrivateKey,
  signServiceToken,
} from '@notes/contracts';
import {
  ADMIN_EMAIL,
  ADMIN_PROBE,
  type AuthTestApp,
  craftToken,
  INTERNAL_PROBE,
  nowSeconds,
  startAuthTestApp,
} from './auth-helpers.ts';

/**
 * A service credential of its own (docs/security.md), played as a compromised consumer and as
 * whoever holds JWT_SECRET: the user secret cannot make a service token, the service key cannot
 * make a user or admin token, only listed keys count, and a rotation accepts two keys.
 */
const oldPair = generateServiceKeyPair();
const newPair = generateServiceKeyPair();
let t: AuthTestApp;
before(async () => {
  t = await startAuthTestApp('secsvc', { SERVICE_PUBLIC_KEYS: `${oldPair.publicKey},${newPair.publicKey}` });
});
after(() => t?.close());

const get = (app: AuthTestApp['app'], url: string, token: string) =>
  app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
/** An EdDSA JWT made by hand with any header and claims, signed with the given seed. */
function edToken(seed: string, header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const input = `${b64({ alg: 'EdDSA', typ: 'JWT', ...header })}.${b64(claims)}`;
  return `${input}.${sign(null, Buffer.from(input), servicePrivateKey(seed)).toString('base64url')}`;
}
const fresh = () => ({ iat: nowSeconds(), exp: nowSeconds() + 600 });

describe('whoever holds JWT_SECRET', () => {
  test('cannot mint the service identity (the consumers no longer hold it either)', async () => {
    const secret = t.deps.config.auth.jwtSecret;
    const forged = craftToken(
      { alg: 'HS256', typ: 'JWT' },
      { sub: SERVICE_SUBJECT, role: 'service', tv: 0, ...fresh() },
      secret,
    );
    assert.equal((await get(t.app, INTERNAL_PROBE, forged)).statusCode, 401);
  });

  test('cannot pass an HMAC token off as EdDSA, or sign HS256 with a public key', async () => {
    const secret = t.deps.config.auth.jwtSecret;
    const claims = { sub: SERVICE_SUBJECT, role: 'service', ...fresh() };
    const asEd = craftToken({ alg: 'EdDSA', typ: 'JWT', kid: serviceKeyId(newPair.publicKey) }, claims, secret);
    assert.equal((await get(t.app, INTERNAL_PROBE, asEd)).statusCode, 401);
    const keyAsSecret = craftToken({ alg: 'HS256', typ: 'JWT' }, claims, newPair.publicKey);
    assert.equal((await get(t.app, INTERNAL_PROBE, keyAsSecret)).statusCode, 401);
  });
});

describe('a compromised consumer (holding the service private key)', () => {
  test('reaches internal routes, and nothing else', async () => {
    const token = signServiceToken(newPair.privateKey);
    assert.equal((await get(t.app, INTERNAL_PROBE, token)).statusCode, 200);
    assert.equal((await get(t.app, ADMIN_PROBE, token)).statusCode, 403);
  });

  test('cannot make an admin or a user token with it', async () => {
    const [admin] = (await t.deps.database.pool.query('SELECT id FROM users WHERE email = ?', [
      ADMIN_EMAIL,
    ])) as unknown as [{ id: string }[]];
    const kid = serviceKeyId(newPair.publicKey);
    const adminId = admin[0]?.id as string;
    const attempts = [
      { sub: adminId, role: 'admin', tv: 0, ...fresh() },
      { sub: SERVICE_SUBJECT, role: 'admin', ...fresh() },
      { sub: adminId, role: 'service', ...fresh() },
    ];
    for (const claims of attempts) {
      const token = edToken(newPair.privateKey, { kid }, claims);
      assert.equal((await get(t.app, ADMIN_PROBE, token)).statusCode, 401, JSON.stringify(claims));
      assert.equal((await me(token)).statusCode, 401);
    }
    // The user-token path does not take EdDSA either, whatever the header claims.
    const hs = edToken(newPair.privateKey, { alg: 'HS256' }, { sub: adminId, role: 'admin', tv: 0, ...fresh() });
    assert.equal((await get(t.app, ADMIN_PROBE, hs)).statusCode, 401);
  });

  test('cannot stretch a token: one issued more than two hours ago is refused whatever its exp', async () => {
    const kid = serviceKeyId(newPair.publicKey);
    const old = edToken(
      newPair.privateKey,
      { kid },
      { sub: SERVICE_SUBJECT, role: 'service', iat: nowSeconds() - 3 * 3600, exp: nowSeconds() + 3600 },
    );
    assert.equal((await get(t.app, INTERNAL_PROBE, old)).statusCode, 401);
    const noExp = edToken(newPair.privateKey, { kid }, { sub: SERVICE_SUBJECT, role: 'service', iat: nowSeconds() });
    assert.equal((await get(t.app, INTERNAL_PROBE, noExp)).statusCode, 401);
  });
});

describe('keys', () => {
  test('a key the API does not list is refused, under its own kid or a listed one', async () => {
    const stranger = generateServiceKeyPair();
    assert.equal((await get(t.app, INTERNAL_PROBE, signServiceToken(stranger.privateKey))).statusCode, 401);
    const borrowed = edToken(
      stranger.privateKey,
      { kid: serviceKeyId(newPair.publicKey) },
      { sub: SERVICE_SUBJECT, role: 'service', ...fresh() },
    );
    assert.equal((await get(t.app, INTERNAL_PROBE, borrowed)).statusCode, 401);
  });

  test('the development key is refused once SERVICE_PUBLIC_KEYS is set', async () => {
    const dev = signServiceToken(startDevSeed());
    assert.equal((await get(t.app, INTERNAL_PROBE, dev)).statusCode, 401);
  });

  test('rotation: both listed keys work; after the old one is dropped, only the new one', async () => {
    assert.equal((await get(t.app, INTERNAL_PROBE, signServiceToken(oldPair.privateKey))).statusCode, 200);
    assert.equal((await get(t.app, INTERNAL_PROBE, signServiceToken(newPair.privateKey))).statusCode, 200);
    const rotated = await startAuthTestApp('secsvc2', { SERVICE_PUBLIC_KEYS: newPair.publicKey });
    try {
      assert.equal((await get(rotated.app, INTERNAL_PROBE, signServiceToken(oldPair.privateKey))).statusCode, 401);
      assert.equal((await get(rotated.app, INTERNAL_PROBE, signServiceToken(newPair.privateKey))).statusCode, 200);
    } finally {
      await rotated.close();
    }
  });
});

function me(token: string) {
  return get(t.app, '/api/auth/me', token);
}

/** The committed development seed (what config falls back to without SERVICE_PRIVATE_KEY). */
function startDevSeed(): string {
  return t.ns.config({}).service.privateKey;
}
