/**
 * Hands out turns of the event loop, one per loop iteration, to CPU-bound steps such as a note's
 * analysis (docs/isolation.md). A plain `await setImmediate()` is not enough: when a prefetched
 * batch's handlers all reach it in the same tick, Node runs every one of those immediates in a
 * single check phase, back to back, and I/O (heartbeats, /health, the webhook lane) waits for the
 * whole batch. Here each turn is granted from an immediate scheduled by the previous one, so the
 * loop polls for I/O between any two steps.
 */
export class EventLoopTurns {
  readonly #waiting: (() => void)[] = [];
  #scheduled = false;

  /** Resolves at the start of a loop iteration of its own. */
  take(): Promise<void> {
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      const next = this.#waiting.shift();
      // Scheduled before `next` runs: an immediate added during the check phase waits for the
      // next iteration, after the poll phase has served I/O.
      if (this.#waiting.length > 0) this.#schedule();
      next?.();
    });
  }
}

/** The process's turns: every consumer in a process shares one event loop. */
export const eventLoopTurns = new EventLoopTurns();
