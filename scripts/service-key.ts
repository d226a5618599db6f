import { generateServiceKeyPair } from '@notes/contracts';

/**
 * `npm run service-key`: a fresh Ed25519 pair for the service identity (docs/security.md), as
 * environment lines. SERVICE_PRIVATE_KEY goes to the consumers (and scripts that call internal
 * routes) only; SERVICE_PUBLIC_KEYS to the API. To rotate, list the new public key after the old
 * one (`old,new`), move the consumers to the new private key, then drop the old public key.
 */
const pair = generateServiceKeyPair();
process.stdout.write(`SERVICE_PRIVATE_KEY=${pair.privateKey}\nSERVICE_PUBLIC_KEYS=${pair.publicKey}\n`);
