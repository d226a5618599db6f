import { setTimeout as sleep } from 'node:timers/promises';
import { request, type User } from './http.ts';

/**
 * Concurrent clients writing notes over real HTTP, each write with its own Idempotency-Key. A
 * client that gets no definitive answer (connection refused or reset, a timeout, a 5xx, a 409
 * "in flight") sends the same write again with the same key, as a careful client would, until it
 * gets one: so "every 201 has exactly one note" is checkable per key, and a write lost to a
 * crash shows up as a key with no note.
 */
export interface Accepted {
  noteId: string;
  userId: string;
  /** When the first 201 for this key arrived. */
  at: number;
  /** The request body sent with the key (a replay must send the same). */
  body: Record<string, unknown>;
}

export interface LoadReport {
  /** Idempotency-Key (also the note's title) → the note it created. */
  accepted: Map<string, Accepted>;
  /** Keys that never got a definitive answer before the drain deadline (a note may or may not exist). */
  undetermined: string[];
  /** Final non-201 answers (4xx other than 409). */
  rejected: { key: string; status: number; body: string }[];
  /** Answers by status (`network:<code>` for no answer, e.g. ECONNREFUSED, ECONNRESET), every try counted. */
  statuses: Record<string, number>;
  /** Longest time to any answer (or failure), per status. */
  maxMs: Record<string, number>;
  /** Replies with the same key that named a different note than the first 201 (must be empty). */
  mismatches: string[];
}

export interface WriteLoad {
  readonly report: LoadReport;
  /** Stops issuing new writes; lets each client finish its current one (retrying until `drainMs`). */
  stop(drainMs?: number): Promise<LoadReport>;
}

export interface WriteLoadOptions {
  apiUrl: string;
  users: readonly User[];
  label: string;
  concurrency?: number;
  /** Pause between a client's writes. */
  pauseMs?: number;
  /** Writes started per second by all clients together (default: as fast as they go). */
  ratePerSec?: number;
  /** Stop issuing after this many writes in all. */
  maxWrites?: number;
  requestTimeoutMs?: number;
  /** Extra body fields for every write. */
  extra?: Record<string, unknown>;
}

const PRIORITIES = ['normal', 'normal', 'normal', 'normal', 'normal', 'normal', 'normal', 'high', 'high', 'low'];

const active = new Set<WriteLoad>();

/** Stops every load still running (a failed test's), so its clients stop retrying. */
export async function stopAllLoads(): Promise<void> {
  await Promise.all([...active].map((l) => l.stop(0)));
}

export function startWriteLoad(opts: WriteLoadOptions): WriteLoad {
  const report: LoadReport = {
    accepted: new Map(),
    undetermined: [],
    rejected: [],
    statuses: {},
    maxMs: {},
    mismatches: [],
  };
  let issued = 0;
  let stopping = false;
  let drainUntil = Number.POSITIVE_INFINITY;
  const note = (status: string, ms: number) => {
    report.statuses[status] = (report.statuses[status] ?? 0) + 1;
    report.maxMs[status] = Math.max(report.maxMs[status] ?? 0, Math.round(ms));
  };

  const writeOnce = async (worker: number, key: string, user: User) => {
    const body = {
      title: key,
      body: `Load note ${key} #load #w${worker} see https://example.com/${key}?x=1. ${'word '.repeat(20)}`,
      priority: PRIORITIES[issued % PRIORITIES.length],
      ...(opts.extra ?? {}),
    };
    for (;;) {
      const started = performance.now();
      try {
        const res = await request(opts.apiUrl, 'POST', '/api/notes', {
          token: user.token,
          body,
          headers: { 'idempotency-key': key },
          timeoutMs: opts.requestTimeoutMs ?? 10_000,
        });
        note(String(res.status), res.ms);
        if (res.status === 201) {
          const id = (res.json as { id: string }).id;
          const first = report.accepted.get(key);
          if (first && first.noteId !== id) report.mismatches.push(key);
          if (!first) report.accepted.set(key, { noteId: id, userId: user.id, at: Date.now(), body });
          return;
        }
        if (res.status !== 409 && res.status < 500) {
          report.rejected.push({ key, status: res.status, body: res.text.slice(0, 500) });
          return;
        }
      } catch (err) {
        note(`network:${networkCode(err)}`, performance.now() - started);
      }
      if (Date.now() > drainUntil) {
        report.undetermined.push(key);
        return;
      }
      await sleep(100);
    }
  };

  const began = Date.now();
  const worker = async (w: number) => {
    for (let i = 0; !stopping; i++) {
      if (opts.maxWrites !== undefined && issued >= opts.maxWrites) return;
      issued++;
      // Paced: write n starts no earlier than n / rate seconds after the load began.
      if (opts.ratePerSec) {
        const due = began + (issued / opts.ratePerSec) * 1000 - Date.now();
        if (due > 0) await sleep(due);
        if (stopping) return;
      }
      const user = opts.users[(w + i) % opts.users.length] as User;
      await writeOnce(w, `${opts.label}-${w}-${i}`, user);
      if (opts.pauseMs) await sleep(opts.pauseMs);
    }
  };

  const workers = Array.from({ length: opts.concurrency ?? 8 }, (_, w) => worker(w));
  const load: WriteLoad = {
    report,
    async stop(drainMs = 60_000) {
      stopping = true;
      drainUntil = Math.min(drainUntil, Date.now() + drainMs);
      await Promise.all(workers);
      active.delete(load);
      return report;
    },
  };
  active.add(load);
  return load;
}

/** Resolves once `n` more writes have been accepted than when it was called (or throws after `timeoutMs`). */
export async function acceptedMore(load: WriteLoad, n: number, timeoutMs = 60_000): Promise<void> {
  const target = load.report.accepted.size + n;
  const deadline = Date.now() + timeoutMs;
  while (load.report.accepted.size < target) {
    if (Date.now() > deadline) {
      throw new Error(
        `only ${load.report.accepted.size}/${target} writes accepted; answers ${JSON.stringify(load.report.statuses)}`,
      );
    }
    await sleep(50);
  }
}

/** Why fetch got no answer: the socket error code under undici's TypeError (or the error's name). */
export function networkCode(err: unknown): string {
  const cause = (err as { cause?: { code?: string; name?: string } }).cause;
  return cause?.code ?? (err as Error).name ?? 'error';
}
