import { AsyncResource } from 'node:async_hooks';

export interface BatcherOptions {
  /** Most items in one request. */
  maxBatch: number;
  /** How long items wait for company while a request is already out. */
  lingerMs: number;
}

/** One queued item: its value, where its answer goes, and the async context it was added in. */
export interface Pending<I> {
  item: I;
  /** Runs `fn` in the caller's async context (its trace): a batch of one is sent from there. */
  inContext: <T>(fn: () => T) => T;
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
 * Gathers concurrent calls into batches (group commit for callbacks). Adaptive, so a lone call is
 * not delayed: when no request is out, what arrived in this turn of the event loop goes at once
 * (setImmediate); while one is out, new items wait until it returns, `lingerMs` passes or
 * `maxBatch` is reached, whichever comes first. Under load batches grow by themselves; idle, each
 * call is its own request. Every caller gets its own item's answer or error.
 */
export class Batcher<I, R> {
  readonly #send: SendBatch<I, R>;
  readonly #opts: BatcherOptions;
  #queue: Waiting<I, R>[] = [];
  #inFlight = 0;
  #timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  /**
   * Flushes run in the async context this batcher was made in (no job's trace): a batch belongs
   * to many jobs, so it must not show up inside the trace of whichever job happened to come first.
   */
  readonly #detachedFlush = AsyncResource.bind(() => this.#flush());

  constructor(send: SendBatch<I, R>, opts: BatcherOptions) {
    this.#send = send;
    this.#opts = { maxBatch: Math.max(1, opts.maxBatch), lingerMs: Math.max(0, opts.lingerMs) };
  }

  /** Items waiting for a request. */
  get queued(): number {
    return this.#queue.length;
  }

  add(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const inContext = AsyncResource.bind(<T>(fn: () => T): T => fn());
      this.#queue.push({ item, inContext, resolve, reject });
      if (this.#queue.length >= this.#opts.maxBatch) this.#detachedFlush();
      else this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#timer || this.#queue.length === 0) return;
    if (this.#inFlight === 0) {
      this.#timer = setImmediate(this.#detachedFlush);
    } else {
      this.#timer = setTimeout(this.#detachedFlush, this.#opts.lingerMs);
    }
  }

  #clearTimer(): void {
    if (!this.#timer) return;
    clearTimeout(this.#timer as NodeJS.Timeout);
    clearImmediate(this.#timer as NodeJS.Immediate);
    this.#timer = null;
  }

  #flush(): void {
    this.#clearTimer();
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#opts.maxBatch);
      this.#inFlight++;
      void this.#run(batch);
      // A full batch goes at once; what is left over waits for the next turn or the linger.
      if (this.#queue.length < this.#opts.maxBatch) break;
    }
    this.#schedule();
  }

  async #run(batch: Waiting<I, R>[]): Promise<void> {
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
      // What gathered while this request was out goes now rather than at the end of its linger.
      if (this.#queue.length > 0) {
        this.#clearTimer();
        this.#timer = setImmediate(this.#detachedFlush);
      }
    }
  }
}
