import { setTimeout as sleep } from 'node:timers/promises';
import { request, type User } from './http.ts';
import { openSse } from './sse.ts';

/**
 * An ordinary user beside a noisy one: writes a note every `pauseMs`, and times each from the
 * moment the write is sent to the moment its `note.processed` event arrives on the user's own
 * live event stream (as a browser would see it).
 */
export interface Bystander {
  /** Stops after the note in progress; resolves with every write→processed time (ms). */
  stop(): Promise<BystanderReport>;
}

export interface BystanderReport {
  latenciesMs: number[];
  /** Writes that were not answered 201 (status → count). */
  refused: Record<number, number>;
  /** Notes whose processed event did not come within the wait. */
  lost: number;
}

const WAIT_PROCESSED_MS = 20_000;
const POLL_MS = 5;

export async function startBystander(apiUrl: string, user: User, pauseMs = 200): Promise<Bystander> {
  const stream = await openSse(apiUrl, user.token);
  const report: BystanderReport = { latenciesMs: [], refused: {}, lost: 0 };
  let running = true;
  const processedAt = async (id: string, from: number): Promise<number | null> => {
    const deadline = performance.now() + WAIT_PROCESSED_MS;
    while (performance.now() < deadline) {
      for (let i = from; i < stream.events.length; i++) {
        const e = stream.events[i]!;
        if (e.event === 'note.processed' && e.data.includes(id)) return performance.now();
      }
      await sleep(POLL_MS);
    }
    return null;
  };
  const loop = (async () => {
    for (let n = 0; running; n++) {
      const seen = stream.events.length;
      const started = performance.now();
      const res = await request(apiUrl, 'POST', '/api/notes', {
        token: user.token,
        body: { title: `bystander ${n}`, body: `an ordinary note #bystander ${n}` },
      });
      if (res.status !== 201) {
        report.refused[res.status] = (report.refused[res.status] ?? 0) + 1;
      } else {
        const at = await processedAt((res.json as { id: string }).id, seen);
        if (at === null) report.lost++;
        else report.latenciesMs.push(at - started);
      }
      await sleep(pauseMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      stream.close();
      return report;
    },
  };
}

/** p-th percentile (0–100) of the values, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
