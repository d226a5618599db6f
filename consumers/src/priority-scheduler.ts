/**
 * Strict priority across several queues (the quorum topology's one queue per priority,
 * docs/scaling.md). Deliveries wait in one buffer per level; whenever a slot is free the oldest
 * delivery of the highest non-empty level starts. With each queue's consumer allowed twice the
 * slots in unacked messages, a level that still has a backlog in the broker always has
 * deliveries buffered here (the broker refills within a round trip of each ack), so a lower
 * level starts only once every higher queue has run dry: the order a classic priority queue
 * gives, across five queues.
 */
export class PriorityScheduler<T> {
  readonly #buffers: T[][];
  #running = 0;
  #held = false;

  /** `levels` buffers, 0 the highest; at most `slots` started items run at once. */
  constructor(
    levels: number,
    private readonly slots: number,
    private readonly start: (item: T) => Promise<void>,
  ) {
    this.#buffers = Array.from({ length: levels }, () => []);
  }

  get running(): number {
    return this.#running;
  }

  get buffered(): number {
    return this.#buffers.reduce((n, b) => n + b.length, 0);
  }

  /** Deliveries buffered at one level. */
  bufferedAt(level: number): number {
    return this.#buffers[level]?.length ?? 0;
  }

  /**
   * Starts nothing until release(): while consumers are being registered, the first delivery to
   * arrive may come from a low queue before the higher ones' are on the wire.
   */
  hold(): void {
    this.#held = true;
  }

  release(): void {
    this.#held = false;
    this.#pump();
  }

  push(level: number, item: T): void {
    const buffer = this.#buffers[level];
    if (!buffer) throw new RangeError(`no priority level ${level}`);
    buffer.push(item);
    this.#pump();
  }

  /** Forgets every buffered item (their channel is gone: the broker gives them out again). */
  clear(): T[] {
    const all = this.#buffers.flat();
    for (const b of this.#buffers) b.length = 0;
    return all;
  }

  #pump(): void {
    while (!this.#held && this.#running < this.slots) {
      const buffer = this.#buffers.find((b) => b.length > 0);
      if (!buffer) return;
      const item = buffer.shift() as T;
      this.#running++;
      let task: Promise<void>;
      try {
        task = this.start(item);
      } catch {
        task = Promise.resolve();
      }
      void task
        .catch(() => {})
        .finally(() => {
          this.#running--;
          this.#pump();
        });
    }
  }
}
