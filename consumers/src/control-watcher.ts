import { EventEmitter } from 'node:events';
import type { JobKind } from '@notes/contracts';
import type { Logger } from 'pino';

/** How often the pause state is asked for: a pause takes effect within about this much plus a request. */
export const CONTROL_POLL_MS = 1000;

export interface ControlSource {
  /** The kinds paused now (GET /internal/control). */
  pausedKinds(): Promise<JobKind[]>;
}

/**
 * Keeps the pause state of every job kind (docs/jobs.md, "Control") by asking the API about once
 * a second. While the API can't be asked the last known state holds: an outage neither pauses nor
 * resumes anything. Emits 'change' with the paused set when it changes.
 */
export class ControlWatcher extends EventEmitter<{ change: [ReadonlySet<JobKind>] }> {
  #paused: ReadonlySet<JobKind> = new Set();
  #timer: NodeJS.Timeout | null = null;
  #running = false;
  #polling: Promise<void> | null = null;

  constructor(
    private readonly source: ControlSource,
    private readonly logger: Logger,
    private readonly intervalMs = CONTROL_POLL_MS,
  ) {
    super();
  }

  get paused(): ReadonlySet<JobKind> {
    return this.#paused;
  }

  isPaused(kind: string): boolean {
    return this.#paused.has(kind as JobKind);
  }

  /** Polls until stopped; the first answer comes before the returned promise resolves (or fails quietly). Idempotent. */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    await this.#poll();
  }

  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#polling;
  }

  #poll(): Promise<void> {
    this.#polling = (async () => {
      try {
        const paused = new Set(await this.source.pausedKinds());
        const changed = paused.size !== this.#paused.size || [...paused].some((k) => !this.#paused.has(k));
        this.#paused = paused;
        if (changed) {
          this.logger.info({ paused: [...paused] }, 'job kinds paused changed');
          this.emit('change', paused);
        }
      } catch (err) {
        this.logger.debug({ err }, 'pause state not read; keeping the last known');
      } finally {
        if (this.#running) {
          this.#timer = setTimeout(() => void this.#poll(), this.intervalMs);
          this.#timer.unref();
        }
      }
    })();
    return this.#polling;
  }
}
