import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { signServiceToken } from '@notes/contracts';
import { updateUser } from '../../api/src/modules/auth/users-repository.ts';
import { users } from '../../api/src/platform/db/schema.ts';
import { deleteRows } from '../../api/test/db-fixtures.ts';
import { startTestApp, type TestApp } from '../../api/test/helpers.ts';

/**
 * The in-process app the HTTP fuzz tests hammer (the real app on the real services, in its own
 * namespace), with one of each identity, a few real rows to aim at, and a cheap way to prove a
 * rejected request changed nothing: one `CHECKSUM TABLE` over every table a request can touch.
 */
export interface FuzzTarget {
  t: TestApp;
  tokens: {
    user: string;
    other: string;
    admin: string;
    service: string;
    expired: string;
    algNone: string;
    tampered: string;
    deleted: string;
  };
  ids: { note: string; otherNote: string; job: string; webhook: string };
  /** A fingerprint of every table's content. */
  snapshot(): Promise<string>;
  close(): Promise<void>;
}

const TABLES = ['users', 'notes', 'jobs', 'idempotency_fences', 'processed_messages', 'webhooks', 'audit_log'];

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

export async function startFuzzTarget(label: string): Promise<FuzzTarget> {
  // The request-rate limits are off: the fuzzer sends thousands of writes as one user from one
  // address, and its properties are about input handling (the limits have tests of their own).
  const t = await startTestApp(label, {
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false',
    USER_WRITE_RATE: '0',
    AUTH_ADDRESS_RATE_PER_MINUTE: '0',
  });
  const register = async (tag: string) => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: { name: tag, email: `${tag}-${randomBytes(4).toString('hex')}@example.test`, password: 'password-123' },
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json() as { user: { id: string }; token: string };
  };
  const user = await register('fuzz');
  const other = await register('other');
  const admin = await register('admin');
  const gone = await register('gone');
  await updateUser(t.deps.database.writer, admin.user.id, { role: 'admin' });
  await deleteRows(t.deps.database, users, { id: gone.user.id });

  const note = await t.app.inject({
    method: 'POST',
    url: '/api/notes',
    headers: { authorization: `Bearer ${user.token}` },
    payload: { title: 'target', body: 'fuzz #target' },
  });
  assert.equal(note.statusCode, 201, note.body);
  const otherNote = await t.app.inject({
    method: 'POST',
    url: '/api/notes',
    headers: { authorization: `Bearer ${other.token}` },
    payload: { title: 'not yours' },
  });
  const hook = await t.app.inject({
    method: 'POST',
    url: '/api/webhooks',
    headers: { authorization: `Bearer ${user.token}` },
    payload: { url: 'https://example.com/hook' },
  });
  const [[job]] = (await t.deps.database.pool.query('SELECT id FROM jobs WHERE note_id = ?', [note.json().id])) as [
    { id: string }[],
    unknown,
  ];

  const [header, payload, signature] = user.token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
  const tokens = {
    user: user.token,
    other: other.token,
    admin: t.app.signToken({ id: admin.user.id, role: 'admin' }),
    service: signServiceToken(t.deps.config.service.privateKey, 600),
    expired: `${header}.${b64url({ ...claims, exp: Math.floor(Date.now() / 1000) - 60 })}.${signature}`,
    algNone: `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ ...claims, role: 'admin' })}.`,
    tampered: `${header}.${b64url({ ...claims, role: 'admin' })}.${signature}`,
    deleted: gone.token,
  };
  return {
    t,
    tokens,
    ids: {
      note: note.json().id,
      otherNote: otherNote.json().id,
      job: job?.id ?? 'none',
      webhook: hook.statusCode === 201 ? hook.json().id : 'none',
    },
    async snapshot() {
      const [rows] = (await t.deps.database.pool.query(`CHECKSUM TABLE ${TABLES.join(', ')}`)) as [
        { Table: string; Checksum: number }[],
        unknown,
      ];
      // The relays delete outbox and live-event rows in the background once published: what a
      // request writes there shows as the tables' next id, which no delete moves back.
      const [next] = (await t.deps.database.pool.query(
        `SELECT TABLE_NAME AS name, AUTO_INCREMENT AS next FROM information_schema.TABLES
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('outbox', 'live_events') ORDER BY TABLE_NAME`,
      )) as [{ name: string; next: number | null }[], unknown];
      return [
        ...rows.map((r) => `${r.Table.split('.').pop()}=${r.Checksum}`),
        ...next.map((r) => `${r.name}_next=${r.next}`),
      ].join(' ');
    },
    close: () => t.close(),
  };
}

/**
 * What every answer must look like: never a 5xx (asserted at once). An error must also be
 * problem+json that leaks nothing: a breach of that is returned (and collected by the caller, so
 * one kind of breach does not stop the fuzzing from finding others).
 */
export function checkAnswer(
  what: string,
  res: { statusCode: number; headers: Record<string, unknown>; body: string },
  method: string,
): string | null {
  assert.ok(res.statusCode < 500, `${what} → ${res.statusCode} ${res.body.slice(0, 500)}`);
  if (res.statusCode < 400 || method === 'HEAD') return null;
  const type = String(res.headers['content-type']);
  if (!/^application\/problem\+json/.test(type)) return `${res.statusCode} as ${type}: ${res.body.slice(0, 160)}`;
  const problem = JSON.parse(res.body) as Record<string, unknown>;
  if (problem.status !== res.statusCode) return `${res.statusCode} with problem.status ${problem.status}`;
  for (const member of ['type', 'title', 'detail']) {
    if (typeof problem[member] !== 'string') return `${res.statusCode} without ${member}`;
  }
  if (/node_modules|\.ts:\d+|\bat \w+ \(|ER_\w+|SQL syntax/.test(res.body))
    return `${res.statusCode} leaks: ${res.body.slice(0, 200)}`;
  return null;
}

/** Breaches of the problem+json rule, by kind, with one example request each. */
export class Breaches {
  readonly byKind = new Map<string, { count: number; example: string }>();
  add(breach: string | null, what: string): void {
    if (!breach) return;
    // The kind: status, content type and the framework's error code, without the request's own text.
    const kind = breach.replace(/"message":.*$/, '').slice(0, 120);
    const seen = this.byKind.get(kind);
    if (seen) seen.count++;
    else this.byKind.set(kind, { count: 1, example: `${what.slice(0, 200)} → ${breach}` });
  }
  report(): string {
    return [...this.byKind.entries()].map(([k, v]) => `${v.count}× ${k}\n    e.g. ${v.example}`).join('\n');
  }
}
