import type { ApiClient, NoteView } from './api-client.ts';
import { Samples } from './stats.ts';

/**
 * Write→processed latency during a long run, without reading every note back: a fraction of
 * accepted notes is re-read by id (a primary-key GET) once it should be done, and again each
 * second until it is processed or dead. Latency comes from the note's own timestamps. The bench
 * reads everything back after the run instead; the soak can't hold 900,000 ids and wants figures
 * per minute.
 */
interface Pending {
  token: string;
  id: string;
  dueAt: number;
  firstSeen: number;
}

/** First look this long after the write; nearly every note is done by then. */
const FIRST_LOOK_MS = 1000;
/** A sampled note not final after this long is counted as overdue and dropped from the sample. */
const GIVE_UP_MS = 120_000;
const CONCURRENCY = 8;

export class LatencySampler {
  readonly #queue: Pending[] = [];
  readonly #window = new Samples();
  #timer: NodeJS.Timeout | null = null;
  #busy = false;
  #random: () => number;
  /** Sampled notes that stayed unfinished past GIVE_UP_MS (a stuck pipeline shows here). */
  overdue = 0;
  dead = 0;

  constructor(
    private readonly client: ApiClient,
    private readonly fraction: number,
    random: () => number = Math.random,
  ) {
    this.#random = random;
  }

  /** Hook for runLoad's onAccepted. */
  offer(token: string, note: NoteView): void {
    if (this.fraction <= 0 || this.#random() >= this.fraction) return;
    const now = Date.now();
    this.#queue.push({ token, id: note.id, dueAt: now + FIRST_LOOK_MS, firstSeen: now });
  }

  get pending(): number {
    return this.#queue.length;
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.tick(), 250);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** The latencies observed since the last call (one soak minute). */
  drainWindow(): Samples {
    return this.#window.drain();
  }

  /** Checks every due sample once. */
  async tick(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const now = Date.now();
      const due: Pending[] = [];
      // The queue is in acceptance order, but re-queued samples go to the back with a later dueAt.
      while (this.#queue.length && (this.#queue[0] as Pending).dueAt <= now) due.push(this.#queue.shift() as Pending);
      let next = 0;
      const worker = async () => {
        while (next < due.length) await this.#check(due[next++] as Pending);
      };
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, due.length) }, worker));
    } finally {
      this.#busy = false;
    }
  }

  /** Waits (bounded) until every sample is resolved. */
  async flush(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.#queue.length && Date.now() < until) {
      for (const p of this.#queue) p.dueAt = Math.min(p.dueAt, Date.now());
      await this.tick();
      if (this.#queue.length) await new Promise((r) => setTimeout(r, 500));
    }
  }

  async #check(p: Pending): Promise<void> {
    try {
      const res = await this.client.getNote(p.token, p.id);
      const note = res.body;
      if (res.status === 200 && note?.status === 'processed' && note.processed_at) {
        this.#window.add(Date.parse(note.processed_at) - Date.parse(note.created_at));
        return;
      }
      if (res.status === 200 && note?.status === 'dead') {
        this.dead++;
        return;
      }
    } catch {
      // a failed read is retried like an unfinished note
    }
    if (Date.now() - p.firstSeen > GIVE_UP_MS) {
      this.overdue++;
      return;
    }
    p.dueAt = Date.now() + 1000;
    this.#queue.push(p);
  }
}
