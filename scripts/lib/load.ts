import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ApiClient, NoteView } from './api-client.ts';
import { Samples, Tally } from './stats.ts';
import type { NoteFactory } from './workload.ts';

/**
 * The load generator. `burst`: every connection writes back to back (a closed loop: as fast as
 * the product answers). `steady`: writes are scheduled at a fixed offered rate whatever the
 * product does (an open loop), and each latency is measured from the moment the write was
 * *due*, so a stalled product shows up as latency instead of hiding as a lower send rate
 * (coordinated omission). Both stop by themselves after the duration; a request in flight then
 * finishes or hits the client's timeout.
 */
export type LoadMode = 'burst' | 'steady';

export interface LoadOptions {
  mode: LoadMode;
  /** Offered writes per second (steady only). */
  rate: number;
  durationS: number;
  connections: number;
  /** Keep every accepted note's id (the bench reads them all back; the soak samples instead). */
  keepNotes: boolean;
  /** Called for each accepted write (the soak samples notes here). */
  onAccepted?: (user: number, note: NoteView) => void;
}

/** Live counters: the progress line and the soak's per-minute rows read them while it runs. */
export class LoadState {
  sent = 0;
  accepted = 0;
  inFlight = 0;
  /** Writes that were due but not yet sent (steady: the product or the client fell behind). */
  lagging = 0;
  /** Steady: writes the schedule called for; those never sent (the product fell behind) are dropped. */
  offered: number | null = null;
  readonly errors = new Tally();
  readonly acceptLatency = new Samples();
  /** Accepted note ids per user index (only with keepNotes). */
  readonly noteIds: string[][];
  startedAt = 0;
  endedAt = 0;

  constructor(users: number) {
    this.noteIds = Array.from({ length: users }, () => []);
  }
}

export interface LoadResult {
  state: LoadState;
  /** Epoch ms of the first write and of the last answer. */
  startedAtMs: number;
  endedAtMs: number;
  elapsedS: number;
}

function errorCode(err: unknown): string {
  const e = err as { code?: string; name?: string };
  return e?.code ?? e?.name ?? 'error';
}

export async function runLoad(
  client: ApiClient,
  tokens: readonly string[],
  factory: NoteFactory,
  options: LoadOptions,
  state: LoadState = new LoadState(tokens.length),
): Promise<LoadResult> {
  const users = tokens.length;
  const start = performance.now();
  const startedAtMs = Date.now();
  const end = start + options.durationS * 1000;
  state.startedAt = start;

  const write = async (user: number, dueAt: number): Promise<void> => {
    state.sent++;
    state.inFlight++;
    try {
      const res = await client.createNote(tokens[user] as string, factory.next());
      if (res.status === 201 && res.body) {
        state.accepted++;
        state.acceptLatency.add(performance.now() - dueAt);
        if (options.keepNotes) state.noteIds[user]?.push(res.body.id);
        options.onAccepted?.(user, res.body);
      } else {
        // 429/503 are answers to report, not crashes.
        state.errors.add(String(res.status));
      }
    } catch (err) {
      state.errors.add(errorCode(err));
    } finally {
      state.inFlight--;
    }
  };

  if (options.mode === 'burst') {
    const worker = async (w: number) => {
      let n = 0;
      while (performance.now() < end) {
        // Each connection moves through the users in turn, so every user gets load.
        const user = (w + n) % users;
        n++;
        await write(user, performance.now());
      }
    };
    await Promise.all(Array.from({ length: options.connections }, (_, w) => worker(w)));
  } else {
    const interval = 1000 / options.rate;
    const planned = Math.floor(options.durationS * options.rate);
    state.offered = planned;
    // Bound what the client holds: past this, due writes wait (and their latency grows).
    const maxInFlight = options.connections * 4;
    const pending = new Set<Promise<void>>();
    let i = 0;
    while (i < planned) {
      const now = performance.now();
      if (now >= end) break;
      const due = Math.min(planned, Math.floor((now - start) / interval) + 1);
      while (i < due && state.inFlight < maxInFlight) {
        const p = write(i % users, start + i * interval);
        pending.add(p);
        void p.finally(() => pending.delete(p));
        i++;
      }
      state.lagging = due - i;
      const wait = start + i * interval - performance.now();
      await sleep(state.inFlight >= maxInFlight ? 1 : Math.max(1, Math.min(wait, 50)));
    }
    state.lagging = 0;
    await Promise.all(pending);
  }

  state.endedAt = performance.now();
  return {
    state,
    startedAtMs,
    endedAtMs: startedAtMs + (state.endedAt - start),
    elapsedS: (state.endedAt - start) / 1000,
  };
}
