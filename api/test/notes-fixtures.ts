import { randomBytes } from 'node:crypto';
import { waitFor } from '@notes/contracts/testing';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { TestApp } from './helpers.ts';

/** Shared by the notes and idempotency tests: users, requests and row counts on the real database. */

export interface TestUser {
  id: string;
  token: string;
}

/** A fresh user through the real registration route. */
export async function newUser(t: TestApp, tag = 'u'): Promise<TestUser> {
  const email = `${tag}-${randomBytes(5).toString('hex')}@example.test`;
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/auth/register',
    payload: { name: `User ${tag}`, email, password: `pw-${randomBytes(6).toString('hex')}` },
  });
  if (res.statusCode !== 201) throw new Error(`register failed: ${res.statusCode} ${res.body}`);
  const { user, token } = res.json() as { user: { id: string }; token: string };
  return { id: user.id, token };
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT';

/** A request as `user` (or anonymous with null); `headers` are added as given. */
export function call(
  t: TestApp,
  user: TestUser | null,
  method: Method,
  url: string,
  payload?: unknown,
  headers: Record<string, string> = {},
): Promise<LightMyRequestResponse> {
  const options: InjectOptions = {
    method,
    url,
    headers: { ...(user ? { authorization: `Bearer ${user.token}` } : {}), ...headers },
  };
  if (payload !== undefined) options.payload = payload as InjectOptions['payload'];
  return t.app.inject(options);
}

export async function createNote(
  t: TestApp,
  user: TestUser,
  body: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<Record<string, unknown> & { id: string; version: number }> {
  const res = await call(
    t,
    user,
    'POST',
    '/api/notes',
    { title: `note ${randomBytes(4).toString('hex')}`, ...body },
    headers,
  );
  if (res.statusCode !== 201) throw new Error(`create failed: ${res.statusCode} ${res.body}`);
  return res.json();
}

export async function query<T = Record<string, unknown>>(
  t: TestApp,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const [rows] = await t.deps.database.pool.query(sql, params);
  return rows as T[];
}

export async function count(t: TestApp, sql: string, params: unknown[] = []): Promise<number> {
  const [row] = await query<{ n: number }>(t, sql, params);
  return Number(row?.n ?? 0);
}

/** Waits until the live-event relay has published (and deleted) every row of `live_events`. */
export async function untilLiveEventsPublished(t: TestApp, what = 'the live events published'): Promise<void> {
  await waitFor(what, async () => (await count(t, 'SELECT COUNT(*) AS n FROM live_events')) === 0, 10_000);
}

/**
 * Rows every write touches, to prove a rejected request changed nothing. The job relay deletes
 * the outbox rows it publishes: a test counting them stops it first (`t.deps.outbox.stop()`).
 */
export async function tableCounts(t: TestApp) {
  const n = (table: string) => count(t, `SELECT COUNT(*) AS n FROM ${table}`);
  const [notes, jobs, outbox, fences] = await Promise.all([
    n('notes'),
    n('jobs'),
    // Job rows; a write's live event is a row of live_events (live-event-relay.ts).
    n('outbox'),
    n('idempotency_fences'),
  ]);
  return { notes, jobs, outbox, fences };
}

export function isProblem(res: LightMyRequestResponse, status: number): boolean {
  return (
    res.statusCode === status &&
    String(res.headers['content-type']).startsWith('application/problem+json') &&
    res.json().status === status
  );
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - start };
}
