import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import type { NoteInput } from './workload.ts';

/**
 * The bench's HTTP client: one undici pool of keep-alive connections to the API (one request
 * per connection at a time, like 64 browsers), speaking the REST API docs/api.md describes. Only loopback
 * targets are accepted: the bench is a local measurement, never a load test of someone else.
 */
export interface NoteView {
  id: string;
  status: string;
  created_at: string;
  processed_at: string | null;
}

export interface Response<T> {
  status: number;
  body: T | null;
}

export class NotLoopbackError extends Error {
  override name = 'NotLoopbackError';
}

/** Per-request bound: a request that takes longer counts as a network error and the loop moves on. */
const REQUEST_TIMEOUT_MS = 30_000;

export function assertLoopback(url: string): URL {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (!(host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host))) {
    throw new NotLoopbackError(`--url must be a loopback address (127.0.0.1, ::1, localhost), got ${u.hostname}`);
  }
  return u;
}

export class ApiClient {
  readonly #pool: Pool;
  readonly origin: string;

  constructor(url: string, connections: number) {
    this.origin = assertLoopback(url).origin;
    this.#pool = new Pool(this.origin, {
      connections,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: REQUEST_TIMEOUT_MS,
    });
  }

  async request<T>(method: string, path: string, opts: { token?: string; body?: unknown } = {}): Promise<Response<T>> {
    const headers: Record<string, string> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let payload: string | undefined;
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(opts.body);
    }
    const res = await this.#pool.request({ method: method as 'GET', path, headers, body: payload });
    const type = String(res.headers['content-type'] ?? '');
    if (type.includes('json')) return { status: res.statusCode, body: (await res.body.json()) as T };
    await res.body.dump();
    return { status: res.statusCode, body: null };
  }

  async text(path: string): Promise<Response<string>> {
    const res = await this.#pool.request({ method: 'GET', path });
    return { status: res.statusCode, body: await res.body.text() };
  }

  /** Registers a fresh user and returns its token. */
  async register(email: string, password: string): Promise<string> {
    const res = await this.request<{ token: string }>('POST', '/api/auth/register', {
      body: { name: email.split('@')[0], email, password },
    });
    if (res.status !== 201 || !res.body?.token) {
      throw new Error(`registering ${email}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    }
    return res.body.token;
  }

  createNote(token: string, note: NoteInput): Promise<Response<NoteView>> {
    return this.request<NoteView>('POST', '/api/notes', { token, body: note });
  }

  getNote(token: string, id: string): Promise<Response<NoteView>> {
    return this.request<NoteView>('GET', `/api/notes/${encodeURIComponent(id)}`, { token });
  }

  async listNotes(token: string, query: Record<string, string | number>): Promise<{ data: NoteView[]; total: number }> {
    const qs = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]));
    const res = await this.request<{ data: NoteView[]; total: number }>('GET', `/api/notes?${qs}`, { token });
    if (res.status !== 200 || !res.body) throw new Error(`GET /api/notes?${qs}: HTTP ${res.status}`);
    return res.body;
  }

  /** Waits until GET `path` answers 200 (the product's /health/ready), bounded by `timeoutMs`. */
  async waitFor(path: string, timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    let last = 'no answer';
    while (Date.now() < until) {
      try {
        const res = await this.request('GET', path);
        if (res.status === 200) return;
        last = `HTTP ${res.status}`;
      } catch (err) {
        last = (err as Error).message;
      }
      await sleep(200);
    }
    throw new Error(`${this.origin}${path} not ready within ${timeoutMs} ms (${last})`);
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}

/** Registers `count` users a few at a time (password hashing is deliberately slow). */
export async function registerUsers(client: ApiClient, runId: string, count: number): Promise<string[]> {
  const tokens: string[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      tokens[i] = await client.register(`bench-${runId}-${i}@example.com`, `bench-password-${runId}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, count) }, worker));
  return tokens;
}
