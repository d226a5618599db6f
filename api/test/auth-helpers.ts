import { createHmac, randomBytes } from 'node:crypto';
import { createTestNamespace, type TestNamespace } from '@notes/contracts/testing';
import type { LightMyRequestResponse } from 'fastify';
import { type App, buildApp } from '../src/app.ts';
import { ensureAdmin } from '../src/modules/auth/admin-bootstrap.ts';
import { migrateDatabase } from '../src/platform/db/client.ts';
import { createDeps } from '../src/wiring.ts';

/** Probe routes guarded by the real guards, so 403s are tested without anyone else's routes. */
export const ADMIN_PROBE = '/api/admin/__auth-probe';
export const INTERNAL_PROBE = '/internal/__auth-probe';

export const ADMIN_EMAIL = 'root@notes.test';
export const ADMIN_PASSWORD = 'admin-password-1';

export interface AuthTestApp {
  app: App;
  ns: TestNamespace;
  deps: Awaited<ReturnType<typeof createDeps>>;
  close(): Promise<void>;
}

/**
 * Like helpers.startTestApp, but adds the probe routes before `ready()` and bootstraps an admin
 * (as main.ts does after migrating).
 */
export async function startAuthTestApp(label: string, overrides: Record<string, string> = {}): Promise<AuthTestApp> {
  const ns = await createTestNamespace(label);
  const config = ns.config({ ADMIN_EMAIL, ADMIN_PASSWORD, ...overrides });
  await migrateDatabase(config);
  const deps = await createDeps(config);
  await ensureAdmin(config, deps.database, deps.logger);
  const app = await buildApp(deps);
  app.get(ADMIN_PROBE, { preHandler: app.requireRole('admin') }, async (request) => ({ role: request.user.role }));
  app.get(INTERNAL_PROBE, { preHandler: app.requireRole('service') }, async (request) => ({ role: request.user.role }));
  await app.ready();
  return {
    app,
    ns,
    deps,
    async close() {
      await app.close();
      await deps.close();
      await ns.cleanup();
    },
  };
}

export const uniqueEmail = (tag = 'u') => `${tag}-${randomBytes(4).toString('hex')}@example.test`;

export async function register(app: App, body: Record<string, unknown>): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: '/api/auth/register', payload: body });
}

/** Registers a fresh user and returns its id, email, password and token. */
export async function newUser(app: App, tag = 'u') {
  const email = uniqueEmail(tag);
  const password = `pw-${randomBytes(6).toString('hex')}`;
  const res = await register(app, { name: `User ${tag}`, email, password });
  if (res.statusCode !== 201) throw new Error(`register failed: ${res.statusCode} ${res.body}`);
  const { user, token } = res.json() as { user: { id: string }; token: string };
  return { id: user.id, email, password, token };
}

export function login(app: App, email: string, password: string, remoteAddress = '127.0.0.1') {
  return app.inject({ method: 'POST', url: '/api/auth/login', payload: { email, password }, remoteAddress });
}

export function me(app: App, token?: string) {
  return app.inject({
    method: 'GET',
    url: '/api/auth/me',
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
}

const b64url = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/**
 * A JWT made by hand, independent of the library under test: any header, any payload, signed
 * with HMAC of the given hash (`sha256` for HS256, `sha512` for HS512) or unsigned.
 */
export function craftToken(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  secret: string | null,
  hash: 'sha256' | 'sha512' = 'sha256',
): string {
  const signingInput = `${b64url(header)}.${b64url(payload)}`;
  const signature = secret === null ? '' : createHmac(hash, secret).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

export function decodePayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
}
