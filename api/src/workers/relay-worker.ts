import type { Logger } from 'pino';

/**
 * What one round of a relay did, which decides when the next one runs:
 * - `more`: a full batch went out; there may be more, so go again at once;
 * - `idle`: everything there was went out; sleep until a commit nudges or the poll comes round;
 * - `wait`: the target (broker, Redis) took nothing this round — no connection, a blocked
 *   connection, unconfirmed publishes; sleep until `wake()` (the target is back) or the poll,
 *   which backs off while such rounds follow each other (`maxWaitMs`), and let nudges only mark
 *   that there is work (each write's nudge must not start a round against a target that is away).
 */
export type RelayRound = 'more' | 'idle' | 'wait';

export interface RelayWorkerOptions {
  /** For logs. */
  name: string;
  logger: Logger;
  /** How often a sleeping worker looks for rows no commit nudged it about. */
  pollMs: number;
  /** Backoff after a round that threw: from pollMs, doubling, up to this. */
  maxBackoffMs?: number;
  /**
   * Backoff after rounds in a row that waited (the target refused or is away): from pollMs,
   * doubling, up to this; the next round that publishes, or `wake()`, starts again at pollMs.
   * Each such round costs the target something (the outbox relay opens a new channel and
   * asserts the topology on it), so a target that keeps refusing is not asked every poll.
   */
  maxWaitMs?: number;
}

export interface RelayWorkerStats {
  rounds: number;
  /** Rounds that threw (each is retried after a backoff). */
  failures: number;
  /** The last sleep between rounds, in ms (what the backoffs chose). */
  lastSleepMs: number;
}

/**
 * The loop every outbox relay runs (docs/architecture.md): one round at a time; a round starts
 * at once when a commit nudges an idle worker, and a nudge that arrives while a round is in
 * flight makes the next round start as soon as this one ends, taking everything that was
 * committed meanwhile. So an idle system publishes each row at once and a busy one batches by
 * itself, with no fixed linger anywhere. A poll catches rows no nudge announced (rows of an
 * instance that died, rows left while the target was away).
 *
 * The loop never stops while the worker runs: a round that throws is logged and retried after a
 * backoff, and should the loop itself ever end early it is started again.
 */
export class RelayWorker {
  #running = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  /** Woken by nudges too (false while the target is away). */
  #nudgeable = true;
  #pending = false;
  readonly stats: RelayWorkerStats = { rounds: 0, failures: 0, lastSleepMs: 0 };
  /** Rounds in a row that waited; reset by a round that did not, and by `wake()`. */
  #waits = 0;

  constructor(
    private readonly round: () => Promise<RelayRound>,
    private readonly opts: RelayWorkerOptions,
  ) {}

  /** Idempotent. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#spawn();
  }

  /** Rows were committed: run a round now, or right after the one in flight. */
  nudge(): void {
    this.#pending = true;
    if (this.#nudgeable) this.#wake?.();
  }

  /** The target is reachable again (a new connection, an unblocked one): run a round now. */
  wake(): void {
    this.#pending = true;
    this.#waits = 0;
    this.#wake?.();
  }

  /** Idempotent. Waits for the round in flight. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#wake?.();
    await this.#loop;
  }

  #spawn(): void {
    this.#loop = this.#run().catch((err) => {
      this.opts.logger.error({ err, relay: this.opts.name }, 'relay loop ended; starting it again');
      if (this.#running) this.#spawn();
    });
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (this.#running) {
      this.#pending = false;
      let result: RelayRound | 'failed';
      try {
        result = await this.round();
        failures = 0;
      } catch (err) {
        result = 'failed';
        failures++;
        this.stats.failures++;
        this.opts.logger.warn({ err, relay: this.opts.name }, 'relay round failed; will retry');
      }
      this.stats.rounds++;
      if (!this.#running) break;
      this.#waits = result === 'wait' ? this.#waits + 1 : result === 'failed' ? this.#waits : 0;
      if (result === 'more' || (result === 'idle' && this.#pending)) continue;
      const ms =
        result === 'failed'
          ? this.#backoff(failures, this.opts.maxBackoffMs ?? 5000)
          : result === 'wait'
            ? this.#backoff(this.#waits, this.opts.maxWaitMs ?? 2000)
            : this.opts.pollMs;
      this.stats.lastSleepMs = ms;
      await this.#sleep(ms, result === 'idle');
    }
  }

  /** pollMs doubled for each time in a row after the first, up to `max` (never below pollMs). */
  #backoff(times: number, max: number): number {
    return Math.min(this.opts.pollMs * 2 ** Math.max(times - 1, 0), Math.max(max, this.opts.pollMs));
  }

  #sleep(ms: number, nudgeable: boolean): Promise<void> {
    this.#nudgeable = nudgeable;
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = null;
        this.#nudgeable = true;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }
}
