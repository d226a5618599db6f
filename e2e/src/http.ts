import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

/** A small HTTP client for the product under test (real sockets, global fetch). */
export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  /** The body as JSON, or undefined when it is not JSON. */
  json: unknown;
  ms: number;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** Throws only when no HTTP answer came (refused, reset, timed out). */
export async function request(
  baseUrl: string,
  method: string,
  path: string,
  opts: RequestOptions = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const started = performance.now();
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    body,
    signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json, ms: performance.now() - started };
}

export interface User {
  id: string;
  email: string;
  token: string;
}

/** A fresh user through the real registration route (retried while the API is starting). */
export async function registerUser(baseUrl: string, tag = 'u'): Promise<User> {
  const email = `${tag}-${randomBytes(5).toString('hex')}@example.test`;
  const password = `pw-${randomBytes(8).toString('hex')}`;
  let last = '';
  for (let i = 0; i < 20; i++) {
    try {
      const res = await request(baseUrl, 'POST', '/api/auth/register', { body: { name: tag, email, password } });
      if (res.status === 201) {
        const { user, token } = res.json as { user: { id: string }; token: string };
        return { id: user.id, email, token };
      }
      last = `${res.status} ${res.text}`;
    } catch (err) {
      last = String(err);
    }
    await sleep(250);
  }
  throw new Error(`register failed: ${last}`);
}

/** Adds a webhook endpoint for the user; returns its id. */
export async function addWebhook(baseUrl: string, user: User, url: string): Promise<string> {
  const res = await request(baseUrl, 'POST', '/api/webhooks', { token: user.token, body: { url } });
  if (res.status !== 201) throw new Error(`webhook create: ${res.status} ${res.text}`);
  return (res.json as { id: string }).id;
}

/** `n` fresh users, each with one webhook endpoint at `webhookUrl` when given. */
export async function registerUsers(baseUrl: string, n: number, tag: string, webhookUrl?: string): Promise<User[]> {
  const users: User[] = [];
  for (let i = 0; i < n; i++) {
    const user = await registerUser(baseUrl, `${tag}${i}`);
    if (webhookUrl) await addWebhook(baseUrl, user, webhookUrl);
    users.push(user);
  }
  return users;
}
