import * as argon2 from 'argon2';
import { ServiceUnavailableError } from '../../platform/errors/index.ts';

/**
 * The one place passwords are hashed and verified (register, login, and any route that sets a
 * password): argon2id behind a bounded queue (docs/isolation.md).
 *
 * argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane) rather than the library's
 * 64 MiB × 4 lanes: this runs on small shared machines and under load tests, and each login
 * holds that memory while it hashes. Hashes made with other parameters still verify, and are
 * upgraded to these on the next successful login.
 */
export const PASSWORD_HASH_OPTIONS = {
  type: argon2.argon2id,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

/** Raised when the hashing queue is full: a 503 with Retry-After. */
export class HasherBusyError extends ServiceUnavailableError {
  constructor(retryAfterSeconds = 1) {
    super('Too many password checks are waiting; retry shortly.', retryAfterSeconds);
  }
}

/**
 * Runs at most `limit` tasks at once, the rest in arrival order, and refuses a task when
 * `maxWaiting` already wait. Here it bounds argon2: every hash or verify holds its memory cost
 * (19 MiB) on a libuv worker thread while it runs, so with no cap a burst of registrations or
 * logins runs one per worker (4 by default) and the API's resident memory jumps by ~76 MB
 * (measured: 64 simultaneous registrations under `npm run bench`). Two at once keep two cores
 * busy; more would only queue for CPU. And with no bound on the waiting, a flood of logins
 * would hold every request (and its socket) for minutes: past `maxWaiting`, the caller is told
 * to come back instead.
 */
export class ConcurrencyLimit {
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(
    readonly limit: number,
    public maxWaiting = Number.POSITIVE_INFINITY,
  ) {}

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.limit) {
      if (this.#waiting.length >= this.maxWaiting) throw new HasherBusyError();
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else this.#active++;
    try {
      return await task();
    } finally {
      // Hand the slot straight to the next waiter (active stays the same), or free it.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
    }
  }
}

/** Process-wide: the memory it protects is the process's. The queue bound is set from config at start-up. */
export const argon2Slots = new ConcurrencyLimit(2, 64);

/** Sets the waiting bound (`PASSWORD_HASH_QUEUE`); the app calls it once when it is built. */
export function configurePasswordHasher(maxWaiting: number): void {
  argon2Slots.maxWaiting = maxWaiting;
}

export const hashPassword = (password: string): Promise<string> =>
  argon2Slots.run(() => argon2.hash(password, PASSWORD_HASH_OPTIONS));

export const verifyPassword = (hash: string, password: string): Promise<boolean> =>
  argon2Slots.run(() => argon2.verify(hash, password));

export const needsRehash = (hash: string): boolean => argon2.needsRehash(hash, PASSWORD_HASH_OPTIONS);
