import { createHash, timingSafeEqual } from 'node:crypto';
import ipaddr from 'ipaddr.js';

/**
 * Who may read `/metrics` (API and consumers alike, docs/security.md): with METRICS_TOKEN set,
 * whoever sends `Authorization: Bearer <METRICS_TOKEN>`; without it, only this machine (a
 * loopback peer), so a development stack keeps working with no setup while a published port
 * tells strangers nothing about traffic, queues or users.
 */
export type MetricsAccess = 'allowed' | 'unauthorized' | 'forbidden';

export function metricsAccess(
  token: string | null,
  authorization: string | undefined,
  remoteAddress: string | undefined,
): MetricsAccess {
  if (token !== null) {
    const given = /^Bearer (\S+)$/i.exec(authorization ?? '')?.[1];
    return given !== undefined && sameSecret(given, token) ? 'allowed' : 'unauthorized';
  }
  return isLoopbackPeer(remoteAddress) ? 'allowed' : 'forbidden';
}

/** Compared as digests: equal length for timingSafeEqual, and no early exit on the first byte. */
function sameSecret(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}

export function isLoopbackPeer(address: string | undefined): boolean {
  if (!address || !ipaddr.isValid(address)) return false;
  const parsed = ipaddr.process(address); // ::ffff:127.0.0.1 → 127.0.0.1
  return parsed.range() === 'loopback';
}
