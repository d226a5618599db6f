import type { CompleteBody, FailBody, RecordResponse, StartBody, StartResponse } from '@notes/api/schemas/internal.ts';
import { type Config, signServiceToken } from '@notes/contracts';
import CircuitBreaker from 'opossum';
import type { Logger } from 'pino';
import { ApiRejectedError, ApiUnavailableError } from './errors.ts';
import type { ConsumerMetrics } from './metrics.ts';

export type { InternalNote, InternalWebhook, RecordResponse, StartResponse } from '@notes/api/schemas/internal.ts';

export interface ApiClientOptions {
  /** One callback's time limit; far below the broker's consumer_timeout. Default 5000. */
  timeoutMs?: number;
  /** How long the circuit stays open before one trial call. Default 2000. */
  resetTimeoutMs?: number;
  /** Calls in the rolling window before the circuit may open. Default 5. */
  volumeThreshold?: number;
}

/** Route templates, for the metric label (never the raw URL with its job id). */
const ROUTES = {
  start: '/internal/jobs/:jobId/start',
  complete: '/internal/jobs/:jobId/complete',
  fail: '/internal/jobs/:jobId/fail',
} as const;
type Op = keyof typeof ROUTES;

type Call = { op: Op; jobId: string; body: unknown };

/** Re-sign the service token this long before it expires. */
const TOKEN_TTL_SECONDS = 3600;
const TOKEN_RENEW_MS = 30 * 60 * 1000;

/**
 * The consumers' calls back into the API (service identity), behind a circuit breaker (opossum):
 * when the API is down, calls fail at once with ApiUnavailableError instead of each waiting for
 * its timeout, and the consumer puts messages back without spending their attempts. Only
 * unavailability counts against the circuit; a 4xx answer is the caller's problem, not the API's.
 */
export class ApiClient {
  readonly #baseUrl: string;
  readonly #secret: string;
  readonly #timeoutMs: number;
  readonly #breaker: CircuitBreaker<[Call], unknown>;
  #token = '';
  #tokenAt = 0;

  constructor(
    config: Config,
    private readonly logger: Logger,
    private readonly metrics?: ConsumerMetrics,
    opts: ApiClientOptions = {},
  ) {
    this.#baseUrl = config.consumer.apiUrl;
    this.#secret = config.auth.jwtSecret;
    this.#timeoutMs = opts.timeoutMs ?? 5000;
    this.#breaker = new CircuitBreaker((call: Call) => this.#post(call), {
      timeout: false, // #post has its own timeout, which also aborts the request
      errorThresholdPercentage: 50,
      volumeThreshold: opts.volumeThreshold ?? 5,
      resetTimeout: opts.resetTimeoutMs ?? 2000,
      rollingCountTimeout: 10_000,
      errorFilter: (err: unknown) => !(err instanceof ApiUnavailableError),
    });
    this.#breaker.on('open', () => this.logger.warn('API unreachable: circuit open, pausing callbacks'));
    this.#breaker.on('halfOpen', () => this.logger.info('API circuit half-open: trying one callback'));
    this.#breaker.on('close', () => this.logger.info('API reachable again: circuit closed'));
  }

  /** True while the circuit is open (calls fail fast). */
  get circuitOpen(): boolean {
    return this.#breaker.opened;
  }

  start(jobId: string, body: StartBody): Promise<StartResponse> {
    return this.#call({ op: 'start', jobId, body }) as Promise<StartResponse>;
  }

  complete(jobId: string, body: CompleteBody): Promise<RecordResponse> {
    return this.#call({ op: 'complete', jobId, body }) as Promise<RecordResponse>;
  }

  fail(jobId: string, body: FailBody): Promise<RecordResponse> {
    return this.#call({ op: 'fail', jobId, body }) as Promise<RecordResponse>;
  }

  /** Readiness: does the API answer `/health` within the time limit? Bypasses the circuit. */
  async ping(timeoutMs = 1000): Promise<boolean> {
    try {
      const res = await fetch(`${this.#baseUrl}/health`, { signal: AbortSignal.timeout(timeoutMs) });
      await res.body?.cancel();
      return res.ok;
    } catch {
      return false;
    }
  }

  /** Stops the circuit's timers. Idempotent. */
  close(): void {
    this.#breaker.shutdown();
  }

  async #call(call: Call): Promise<unknown> {
    try {
      return await this.#breaker.fire(call);
    } catch (err) {
      if ((err as { code?: string }).code === 'EOPENBREAKER') {
        throw new ApiUnavailableError('the API is unreachable (circuit open)');
      }
      if ((err as { code?: string }).code === 'ESHUTDOWN') throw new ApiUnavailableError('the API client is closed');
      throw err;
    }
  }

  async #post({ op, jobId, body }: Call): Promise<unknown> {
    const started = performance.now();
    let status = 'error';
    try {
      let res: Response;
      try {
        res = await fetch(`${this.#baseUrl}/internal/jobs/${encodeURIComponent(jobId)}/${op}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${this.#serviceToken()}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(this.#timeoutMs),
        });
      } catch (err) {
        throw new ApiUnavailableError(`${op} callback got no answer: ${(err as Error).message}`);
      }
      status = String(res.status);
      const text = await res.text().catch(() => '');
      if (res.ok) return JSON.parse(text);
      // Auth trouble is a deployment problem (secrets differ), not the job's: keep the message.
      if (res.status >= 500 || res.status === 401 || res.status === 403 || res.status === 408 || res.status === 429) {
        throw new ApiUnavailableError(`${op} callback answered ${res.status}: ${text.slice(0, 200)}`);
      }
      throw new ApiRejectedError(res.status, `${op} callback refused with ${res.status}: ${text.slice(0, 500)}`);
    } finally {
      this.metrics?.apiCallDuration.observe(
        { route: ROUTES[op], status_code: status },
        (performance.now() - started) / 1000,
      );
    }
  }

  #serviceToken(): string {
    if (!this.#token || Date.now() - this.#tokenAt > TOKEN_RENEW_MS) {
      this.#token = signServiceToken(this.#secret, TOKEN_TTL_SECONDS);
      this.#tokenAt = Date.now();
    }
    return this.#token;
  }
}
