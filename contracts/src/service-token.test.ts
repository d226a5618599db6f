import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createVerifier } from 'fast-jwt';
import { DEV_SERVICE_PRIVATE_KEY, DEV_SERVICE_PUBLIC_KEY } from './config.ts';
import {
  generateServiceKeyPair,
  publicKeyOf,
  SERVICE_SUBJECT,
  serviceKeyId,
  servicePublicKey,
  signServiceToken,
} from './service-token.ts';

test('the committed development pair belongs together', () => {
  assert.equal(publicKeyOf(DEV_SERVICE_PRIVATE_KEY), DEV_SERVICE_PUBLIC_KEY);
});

test('a service token is EdDSA, names its key, and verifies with the public key only', () => {
  const pair = generateServiceKeyPair();
  assert.equal(publicKeyOf(pair.privateKey), pair.publicKey);
  const token = signServiceToken(pair.privateKey, 60);
  const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString());
  assert.deepEqual([header.alg, header.kid], ['EdDSA', serviceKeyId(pair.publicKey)]);
  const key = servicePublicKey(pair.publicKey).export({ format: 'pem', type: 'spki' }) as string;
  const payload = createVerifier({ key, algorithms: ['EdDSA'] })(token);
  assert.deepEqual([payload.sub, payload.role], [SERVICE_SUBJECT, 'service']);
  const other = servicePublicKey(generateServiceKeyPair().publicKey).export({ format: 'pem', type: 'spki' }) as string;
  assert.throws(() => createVerifier({ key: other, algorithms: ['EdDSA'] })(token));
});
