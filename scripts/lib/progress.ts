import type { ApiClient } from './api-client.ts';
import type { LoadState } from './load.ts';
import type { Product } from './product.ts';

/**
 * The progress line: every second, on stderr (stdout is kept for the result, which --json makes
 * machine-readable): elapsed, sent, accepted, errors, processed so far.
 */
export type DoneCounter = () => Promise<number | null>;

const RECORDED = /^notes_jobs_recorded_total\{([^}]*)\}\s+(\S+)/;

/** Notes processed or dead so far, from the API's /metrics (a product the bench did not start). */
async function recordedViaMetrics(client: ApiClient): Promise<number | null> {
  const res = await client.text('/metrics');
  if (res.status !== 200 || !res.body) return null;
  let total = 0;
  let found = false;
  for (const line of res.body.split('\n')) {
    const m = RECORDED.exec(line);
    const labels = m?.[1] ?? '';
    if (!labels.includes('kind="note.process"') || !/outcome="(processed|dead)"/.test(labels)) continue;
    total += Number(m?.[2]);
    found = true;
  }
  return found ? total : null;
}

/**
 * How many accepted notes are final so far. With its own product the bench counts the few
 * unfinished rows in the database; otherwise it reads the API's counter (relative to the start).
 */
export async function doneCounter(product: Product, control: ApiClient, state: LoadState): Promise<DoneCounter> {
  if (product.owned) {
    return async () => {
      const unfinished = await product.unfinished();
      return unfinished === null ? null : Math.max(0, state.accepted - unfinished);
    };
  }
  const at = await recordedViaMetrics(control).catch(() => null);
  if (at === null) return async () => null;
  return async () => {
    const now = await recordedViaMetrics(control).catch(() => null);
    return now === null ? null : now - at;
  };
}

export function startProgress(
  state: LoadState,
  done: DoneCounter,
  write: (line: string) => void,
  intervalMs = 1000,
): { stop(): void } {
  const t0 = Date.now();
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      const processed = await done().catch(() => null);
      const errors = state.errors.total;
      const s = Math.round((Date.now() - t0) / 1000);
      write(
        `${String(s).padStart(4)}s  sent ${state.sent}  accepted ${state.accepted}  errors ${errors}` +
          `  processed ${processed ?? 'n/a'}  in flight ${state.inFlight}` +
          (state.lagging > 0 ? `  behind schedule ${state.lagging}` : ''),
      );
    } finally {
      busy = false;
    }
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
