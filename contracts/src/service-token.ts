import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createSigner } from 'fast-jwt';

export const SERVICE_SUBJECT = 'service:consumers';
/** The only algorithm a service token may use; user tokens are HS256 and can never pass as one. */
export const SERVICE_TOKEN_ALGORITHM = 'EdDSA';

/*
 * The service identity (docs/security.md): consumers and scripts hold an Ed25519 private key and
 * sign short-lived JWTs with it; the API holds only public keys. Whoever holds JWT_SECRET (the
 * API) cannot make a service token, and whoever holds the service key (a consumer) cannot make a
 * user or admin token. Keys travel as base64url of their 32 raw bytes, so they fit an environment
 * variable; a token names its key in `kid` so the API can accept two keys during a rotation.
 */

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export class ServiceKeyError extends Error {
  override name = 'ServiceKeyError';
}

function raw32(value: string, what: string): Buffer {
  const bytes = Buffer.from(value, 'base64url');
  if (bytes.length !== 32) throw new ServiceKeyError(`${what} must be 32 bytes in base64url`);
  return bytes;
}

export function servicePrivateKey(seed: string): KeyObject {
  const der = Buffer.concat([PKCS8_ED25519_PREFIX, raw32(seed, 'SERVICE_PRIVATE_KEY')]);
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}

export function servicePublicKey(key: string): KeyObject {
  const der = Buffer.concat([SPKI_ED25519_PREFIX, raw32(key, 'SERVICE_PUBLIC_KEYS')]);
  return createPublicKey({ key: der, format: 'der', type: 'spki' });
}

/** The public half of a private seed, in the form SERVICE_PUBLIC_KEYS takes. */
export function publicKeyOf(seed: string): string {
  const jwk = createPublicKey(servicePrivateKey(seed)).export({ format: 'jwk' });
  return jwk.x as string;
}

/** A key's id: the start of its SHA-256 thumbprint, so signer and verifier agree without setup. */
export function serviceKeyId(publicKey: string): string {
  return createHash('sha256').update(raw32(publicKey, 'public key')).digest('base64url').slice(0, 16);
}

/** A fresh pair for `npm run service-key` and for tests. */
export function generateServiceKeyPair(): { privateKey: string; publicKey: string } {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  return { privateKey: jwk.d as string, publicKey: jwk.x as string };
}

/**
 * A short-lived JWT for the `service` identity, signed with the service private key (the
 * config's `service.privateKey`). The API refuses service tokens older than its own limit.
 */
export function signServiceToken(privateKey: string, ttlSeconds = 3600): string {
  const key = servicePrivateKey(privateKey).export({ format: 'pem', type: 'pkcs8' }) as string;
  const sign = createSigner({
    key,
    algorithm: SERVICE_TOKEN_ALGORITHM,
    kid: serviceKeyId(publicKeyOf(privateKey)),
    expiresIn: ttlSeconds * 1000,
  });
  return sign({ sub: SERVICE_SUBJECT, role: 'service' });
}
