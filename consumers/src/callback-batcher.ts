import { AsyncResource } from 'node:async_hooks';

export interface BatcherOptions {
  /** Most items in one request. */
  maxBatch: number;
  /**
   * Requests out at once before new items wait for one to return. Default 2: one request would
   * make every call wait a whole round trip behind the one out whenever the API is slow to
   * answer (a loaded event loop); two overlap, and past them batches still grow with the load.
   */
  maxInFlight?: number;
  /**
   * A request out longer than this no longer holds the items gathered behind it: they go in a
   * request of their own. Only a stalled request (a hung API, a lost answer) reaches it; the
   * request's own time limit bounds it too. Default 1000.
   */
  stallMs?: number;
}

/**
 * One queued item. (Its caller's async context is not kept: binding one per item cost a busy
 * consumer ~4% of its CPU; an item that needs its trace carries it, as the API client's do.)
 */
export interface Pending<I> {
  item: I;
}

/**
 * Sends the items; answers one result per item, in order. An Error in the answer fails that item
 * alone; a thrown error fails every item of the batch.
 */
export type SendBatch<I, R> = (batch: readonly Pending<I>[]) => Promise<(R | Error)[]>;

interface Waiting<I, R> extends Pending<I> {
  resolve(result: R): void;
  reject(err: unknown): void;
}

/**
 * Gathers concurrent calls into batches (group commit for callbacks), with no timer deciding the
 * size. While fewer than `maxInFlight` requests are out, what arrived in this turn of the event
 * loop goes at once (setImmediate): an idle system answers each call with a request of its own.
 * Once `maxInFlight` are out, new items wait; when one returns, everything that gathered
 * meanwhile goes in the next request. So batches grow with the load by themselves and no item
 * ever waits for company that is not coming. A full batch (`maxBatch`) goes at once; requests
 * out past `stallMs` stop holding the queue. Every caller gets its own item's answer or error.
 */
export class Batcher<I, R> {
  readonly #send: SendBatch<I, R>;
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  readonly #stallMs: number;
  #queue: Waiting<I, R>[] = [];
  #inFlight = 0;
  #immediate: NodeJS.Immediate | null = null;
  #stallTimer: NodeJS.Timeout | null = null;
  /**
   * Flushes run in the async context this batcher was made in (no job's trace): a batch belongs
   * to many jobs, so it must not show up inside the trace of whichever job happened to come first.
   */
  readonly #detachedFlush = AsyncResource.bind(() => this.#flush());

  constructor(send: SendBatch<I, R>, opts: BatcherOptions) {
    this.#send = send;
    this.#maxBatch = Math.max(1, opts.maxBatch);
    this.#maxInFlight = Math.max(1, opts.maxInFlight ?? 2);
    this.#stallMs = Math.max(1, opts.stallMs ?? 1000);
  }

  /** Items waiting for a request. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Requests out now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  add(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (this.#queue.length >= this.#maxBatch) this.#detachedFlush();
      else if (this.#inFlight < this.#maxInFlight) this.#soon();
      // Otherwise the item waits for a request that is out (#run flushes when one returns).
    });
  }

  /** A flush at the end of this turn, so everything added in the turn shares it. */
  #soon(): void {
    this.#immediate ??= setImmediate(this.#detachedFlush);
  }

  #flush(): void {
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#immediate = null;
    this.#clearStall();
    // Full batches go at once; the rest goes whole (under maxBatch) as one more request.
    while (this.#queue.length > 0) this.#start(this.#queue.splice(0, this.#maxBatch));
  }

  #start(batch: Waiting<I, R>[]): void {
    this.#inFlight++;
    void this.#run(batch);
  }

  async #run(batch: Waiting<I, R>[]): Promise<void> {
    this.#armStall();
    try {
      const results = await this.#send(batch);
      batch.forEach((w, i) => {
        const r = results[i];
        if (r instanceof Error) w.reject(r);
        else w.resolve(r as R);
      });
    } catch (err) {
      for (const w of batch) w.reject(err);
    } finally {
      this.#inFlight--;
      // What gathered while this request was out goes now, all of it in one request.
      if (this.#queue.length > 0) this.#soon();
      else if (this.#inFlight === 0) this.#clearStall();
    }
  }

  /** While a request is out, a timer makes sure it cannot hold the queue forever. */
  #armStall(): void {
    if (this.#stallTimer) return;
    this.#stallTimer = setTimeout(() => {
      this.#stallTimer = null;
      if (this.#queue.length > 0) this.#detachedFlush();
      else if (this.#inFlight > 0) this.#armStall();
    }, this.#stallMs);
    this.#stallTimer.unref();
  }

  #clearStall(): void {
    if (this.#stallTimer) clearTimeout(this.#stallTimer);
    this.#stallTimer = null;
  }
}
