import dns from 'node:dns';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * SSRF guard for webhook URLs, shared by the API (at creation) and the consumers (at every
 * delivery, because DNS can change between the two: rebinding). A URL is allowed only when it is
 * http(s) and every address its host resolves to is public unicast. The address classes come
 * from ipaddr.js rather than hand-written CIDR math.
 */

export type UnsafeUrlReason = 'invalid' | 'scheme' | 'credentials' | 'private-address' | 'unresolvable';

export class UnsafeUrlError extends Error {
  override name = 'UnsafeUrlError';
  constructor(
    message: string,
    readonly reason: UnsafeUrlReason,
  ) {
    super(message);
  }
}

export interface SsrfOptions {
  /** WEBHOOK_ALLOW_PRIVATE_NETWORKS: skip the address check (development, tests). */
  allowPrivateNetworks: boolean;
  /** How long a DNS lookup may take before the URL counts as unresolvable. */
  lookupTimeoutMs?: number;
}

// IANA's global unicast block; anything outside it (::/8 incl. IPv4-compatible forms, fc00::/7,
// fe80::/10, ff00::/8, …) is never a public webhook target.
const IPV6_GLOBAL_UNICAST = ipaddr.parseCIDR('2000::/3');

/**
 * True when the address is public unicast. IPv4-mapped IPv6 (`::ffff:127.0.0.1`) is judged as
 * the IPv4 address it carries; NAT64, 6to4 and Teredo prefixes are refused since they can
 * tunnel to private IPv4 space. Anything that does not parse is not public.
 */
export function isPublicAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (!ipaddr.isValid(bare)) return false;
  const ip = ipaddr.process(bare);
  if (ip.range() !== 'unicast') return false;
  if (ip.kind() === 'ipv6') return (ip as ipaddr.IPv6).match(IPV6_GLOBAL_UNICAST as [ipaddr.IPv6, number]);
  return true;
}

/**
 * Parses a webhook URL and checks its shape (no network access): http(s), a host, no
 * credentials. The WHATWG parser already turns `0x7f000001`, `2130706433` and `0177.0.0.1` into
 * `127.0.0.1`, so the address check below sees the canonical form.
 */
export function parseWebhookUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UnsafeUrlError('url is not a valid absolute URL', 'invalid');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UnsafeUrlError('url must use http or https', 'scheme');
  }
  if (!url.hostname) throw new UnsafeUrlError('url has no host', 'invalid');
  // Secrets belong in the signature, not in the URL (and userinfo is a classic parser-confusion trick).
  if (url.username || url.password) throw new UnsafeUrlError('url must not contain credentials', 'credentials');
  return url;
}

/** The URL's host without IPv6 brackets. */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

function lookupAll(hostname: string, timeoutMs: number): Promise<dns.LookupAddress[]> {
  return new Promise((resolve, reject) => {
    // getaddrinfo has no timeout of its own; a hung resolver must not hang a request.
    const timer = setTimeout(
      () => reject(new UnsafeUrlError(`${hostname} did not resolve within ${timeoutMs} ms`, 'unresolvable')),
      timeoutMs,
    );
    dns.lookup(hostname, { all: true, verbatim: true }, (err, addresses) => {
      clearTimeout(timer);
      if (err) reject(new UnsafeUrlError(`${hostname} does not resolve (${err.code ?? err.message})`, 'unresolvable'));
      else resolve(addresses);
    });
  });
}

function refuse(hostname: string, address: string): UnsafeUrlError {
  const shown = hostname === address ? address : `${hostname} (${address})`;
  return new UnsafeUrlError(`url points to a private, loopback or reserved address: ${shown}`, 'private-address');
}

/**
 * Checks the URL's shape and, unless private networks are allowed, that every address its host
 * resolves to is public (one private answer is enough to refuse: the client may pick it).
 * Returns the parsed URL. Throws UnsafeUrlError.
 */
export async function assertSafeUrl(raw: string | URL, opts: SsrfOptions): Promise<URL> {
  const url = parseWebhookUrl(typeof raw === 'string' ? raw : raw.href);
  if (opts.allowPrivateNetworks) return url;
  const host = hostOf(url);
  if (ipaddr.isValid(host)) {
    if (!isPublicAddress(host)) throw refuse(host, host);
    return url;
  }
  const addresses = await lookupAll(host, opts.lookupTimeoutMs ?? 3000);
  if (addresses.length === 0) throw new UnsafeUrlError(`${host} does not resolve`, 'unresolvable');
  for (const a of addresses) if (!isPublicAddress(a.address)) throw refuse(host, a.address);
  return url;
}

/**
 * A `lookup` for http.request / net.connect that refuses private answers on the very
 * resolution the connection uses, closing the gap between a check and the connect (DNS
 * rebinding). IP-literal hosts never reach a lookup function: check those with assertSafeUrl.
 */
export function createGuardedLookup(opts: SsrfOptions): LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      if (!opts.allowPrivateNetworks) {
        if (addresses.length === 0)
          return callback(new UnsafeUrlError(`${hostname} does not resolve`, 'unresolvable'), '');
        const bad = addresses.find((a) => !isPublicAddress(a.address));
        if (bad) return callback(refuse(hostname, bad.address), '');
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(new UnsafeUrlError(`${hostname} does not resolve`, 'unresolvable'), '');
      return callback(null, first.address, first.family);
    });
  };
}
