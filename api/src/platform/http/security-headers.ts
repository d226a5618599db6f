import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import helmet from 'helmet';

/**
 * The Content-Security-Policy every answer carries, the admin console's pages above all
 * (docs/security.md). The console is Vite's build of react-admin: its own scripts from /admin/
 * and nothing inline, so `script-src 'self'` holds and an injected `<script>` or inline handler
 * cannot run, the XSS that would read the admin token. MUI's emotion writes `<style>` elements
 * at run time, hence `'unsafe-inline'` for styles only (styles cannot run code). The console
 * talks to its own origin only (REST and the live-events EventSource), and nobody may frame it
 * (clickjacking on the DLQ and user actions).
 */
export const CONTENT_SECURITY_POLICY = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'", "'unsafe-inline'"],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'self'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
} as const;

/**
 * helmet on every route: CSP above, `X-Frame-Options: DENY`, `X-Content-Type-Options: nosniff`,
 * `Referrer-Policy: no-referrer`, and helmet's other defaults. Not `upgrade-insecure-requests`:
 * the product runs on plain HTTP on loopback by default, where TLS belongs to the proxy in front.
 *
 * helmet's middleware runs once, at start-up, and the headers it sets are kept: every request
 * gets them as one object on its reply (the policy has no per-request part, no nonce). Running
 * helmet per request (its dozen setHeader calls) was about 1% of the API's CPU under write load.
 * A route that writes its own head (the live events, after hijacking) copies them from the reply.
 */
async function securityHeaders(app: FastifyInstance): Promise<void> {
  const headers = securityHeaderValues();
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers);
    done();
  });
}

/** The headers helmet sets, collected from one run of its middleware. */
export function securityHeaderValues(): Record<string, string> {
  const middleware = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { ...CONTENT_SECURITY_POLICY },
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
  });
  const headers: Record<string, string> = {};
  const res = {
    setHeader: (name: string, value: unknown) => {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader: (name: string) => {
      delete headers[name.toLowerCase()];
    },
  };
  let failed: unknown = null;
  middleware({} as IncomingMessage, res as unknown as ServerResponse, (err?: unknown) => {
    failed = err ?? null;
  });
  if (failed) throw failed;
  return headers;
}

/** fastify-plugin: the headers apply to every route of the app, not only inside this plugin. */
export default fp(securityHeaders, { name: 'security-headers' });
