import type { Env } from './config-env.ts';

/**
 * The checks of a configuration beyond each variable's own schema (docs/configuration.md,
 * docs/security.md): the development secrets refused where strangers reach the process, and
 * TRUST_PROXY's forms.
 */

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Which process is loading: the API (and `npm start`, which runs it) must not sign or accept
 * tokens with committed development keys where strangers can reach it; consumers must not
 * run in production with the development service key (the API would refuse every callback).
 */
export type Component = 'api' | 'consumers' | 'script';

/** 127.0.0.0/8, ::1 and localhost: only this machine can connect. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/**
 * The development defaults are committed to the repository, so anyone can sign with them: they
 * are refused wherever a stranger could reach the API, whatever NODE_ENV says (docs/security.md).
 */
export function checkSecrets(e: Env, component: Component): void {
  const exposed = e.NODE_ENV === 'production' || !isLoopbackHost(e.HOST);
  const why = e.NODE_ENV === 'production' ? 'NODE_ENV=production' : `HOST=${e.HOST} is not a loopback address`;
  if (component === 'api') {
    const missing = [
      e.JWT_SECRET ? null : 'JWT_SECRET (32+ random characters)',
      e.SERVICE_PUBLIC_KEYS ? null : 'SERVICE_PUBLIC_KEYS (`npm run service-key` makes a pair)',
    ].filter((m) => m !== null);
    if (exposed && missing.length) {
      throw new ConfigError(`invalid configuration: ${missing.join(' and ')} required: ${why}`);
    }
  }
  if (component === 'consumers' && e.NODE_ENV === 'production' && !e.SERVICE_PRIVATE_KEY) {
    throw new ConfigError(
      'invalid configuration: SERVICE_PRIVATE_KEY is required when NODE_ENV=production (`npm run service-key` makes a pair)',
    );
  }
}

/** `TRUST_PROXY` as Fastify's trustProxy takes it (see the schema's comment). */
export function parseTrustProxy(value: string): boolean | number | string[] {
  const v = value.trim().toLowerCase();
  if (v === '' || v === 'false') return false;
  if (v === 'true') return true;
  if (/^\d+$/.test(v)) return Number(v);
  const list = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of list) {
    if (!/^[0-9a-f.:]+(\/\d{1,3})?$/.test(item)) {
      throw new ConfigError(`invalid configuration: TRUST_PROXY: ${item} is not an address or CIDR range`);
    }
  }
  return list;
}
