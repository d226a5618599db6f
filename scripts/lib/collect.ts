import { setTimeout as sleep } from 'node:timers/promises';
import type { ApiClient, NoteView } from './api-client.ts';
import { type LatencySummary, summarize } from './stats.ts';

/**
 * After the load: wait (bounded) until every accepted note is processed or dead, then read every
 * note back through the API and compute the end-to-end figures from the product's own
 * timestamps: write→processed = processed_at − created_at per note, and processed notes/s =
 * processed ÷ (last processed_at − first created_at).
 */
export interface EndToEnd {
  accepted: number;
  processed: number;
  dead: number;
  /** Still queued/processing/failed when the drain timeout ran out. */
  unfinished: number;
  /** Accepted (201 with an id) but not found when read back: a lost write. */
  missing: number;
  processedPerS: number | null;
  /**
   * Notes processed after the last write was answered ÷ the time they took: the pipeline's rate
   * with no writes competing for the machine (null when nothing was left to process).
   */
  drainPerS: number | null;
  writeToProcessedMs: LatencySummary;
  /** Seconds from the end of the load until the last note was final (or the timeout). */
  drainS: number;
}

/** Sums a per-user status count through the API (used when the bench can't see the database). */
async function finalCountViaApi(client: ApiClient, tokens: readonly string[]): Promise<number> {
  let done = 0;
  for (const token of tokens) {
    for (const status of ['processed', 'dead']) {
      done += (await client.listNotes(token, { limit: 1, status })).total;
    }
  }
  return done;
}

/**
 * Waits until nothing is unfinished. `unfinished` is the product's cheap database count when the
 * bench owns it; otherwise counts go through the API. Returns the seconds waited.
 */
export async function waitUntilFinal(
  client: ApiClient,
  tokens: readonly string[],
  accepted: number,
  unfinished: () => Promise<number | null>,
  timeoutS: number,
  onTick?: (remaining: number | null) => void,
): Promise<number> {
  const start = Date.now();
  const until = start + timeoutS * 1000;
  while (Date.now() < until) {
    let remaining = await unfinished();
    if (remaining === null) remaining = accepted - (await finalCountViaApi(client, tokens));
    onTick?.(remaining);
    if (remaining <= 0) break;
    await sleep(remaining > 1000 ? 1000 : 250);
  }
  return (Date.now() - start) / 1000;
}

async function readUser(client: ApiClient, token: string, ids: readonly string[]): Promise<NoteView[]> {
  const seen = new Map<string, NoteView>();
  // Offset pages sorted by created_at can skip or repeat rows that share a millisecond, so the
  // pages are deduplicated and any accepted id still unseen is fetched on its own.
  for (let offset = 0; ; offset += 100) {
    const page = await client.listNotes(token, { limit: 100, offset, sort: 'created_at' });
    for (const n of page.data) seen.set(n.id, n);
    if (page.data.length < 100 || offset + 100 >= page.total) break;
  }
  for (const id of ids) {
    if (seen.has(id)) continue;
    const res = await client.getNote(token, id);
    if (res.status === 200 && res.body) seen.set(id, res.body);
  }
  return ids.map((id) => seen.get(id)).filter((n): n is NoteView => n !== undefined);
}

export async function collectEndToEnd(
  client: ApiClient,
  tokens: readonly string[],
  noteIds: readonly (readonly string[])[],
  drainS: number,
  loadEndedAtMs: number,
): Promise<EndToEnd> {
  const notes: NoteView[] = [];
  let next = 0;
  const worker = async () => {
    while (next < tokens.length) {
      const u = next++;
      notes.push(...(await readUser(client, tokens[u] as string, noteIds[u] ?? [])));
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, tokens.length) }, worker));

  const accepted = noteIds.reduce((n, ids) => n + ids.length, 0);
  const latencies: number[] = [];
  let processed = 0;
  let dead = 0;
  let firstCreated = Number.POSITIVE_INFINITY;
  let lastProcessed = Number.NEGATIVE_INFINITY;
  let afterLoad = 0;
  for (const n of notes) {
    const created = Date.parse(n.created_at);
    firstCreated = Math.min(firstCreated, created);
    if (n.status === 'dead') dead++;
    if (n.status !== 'processed' || !n.processed_at) continue;
    processed++;
    const done = Date.parse(n.processed_at);
    lastProcessed = Math.max(lastProcessed, done);
    if (done > loadEndedAtMs) afterLoad++;
    latencies.push(done - created);
  }
  const span = (lastProcessed - firstCreated) / 1000;
  return {
    accepted,
    processed,
    dead,
    unfinished: notes.length - processed - dead,
    missing: accepted - notes.length,
    processedPerS: processed > 0 && span > 0 ? processed / span : null,
    // Below ~100 notes or half a second the figure is noise, not a rate.
    drainPerS:
      afterLoad >= 100 && lastProcessed - loadEndedAtMs >= 500
        ? afterLoad / ((lastProcessed - loadEndedAtMs) / 1000)
        : null,
    writeToProcessedMs: summarize(latencies),
    drainS,
  };
}
