import {
  type Config,
  type ControlState,
  currentTraceparent,
  type JobKind,
  signServiceToken,
  withTraceparent,
} from '@notes/contracts';
import type {
  CompleteBody,
  FailBody,
  RecordItemResponse,
  RecordResponse,
  StartBody,
  StartItemResponse,
  StartResponse,
} from '@notes/contracts/callbacks';
import CircuitBreaker from 'opossum';
import type { Logger } from 'pino';
import { type Dispatcher, Pool } from 'undici';
import { Batcher, type Pending } from './callback-batcher.ts';
import { ApiRejectedError, ApiUnavailableError } from './errors.ts';
import type { ConsumerMetrics } from './metrics.ts';

export type { InternalNote, InternalWebhook, RecordResponse, StartResponse } from '@notes/contracts/callbacks';

export interface ApiClientOptions {
  /** One callback request's time limit; far below the broker's consumer_timeout. Default 5000. */
  timeoutMs?: number;
  /** How long the circuit stays open before one trial call. Default 2000. */
  resetTimeoutMs?: number;
  /** Requests in the rolling window before the circuit may open. Default 5. */
  volumeThreshold?: number;
  /** Most callbacks in one batched request (1 turns batching off). Default 200. */
  maxBatch?: number;
}

type Op = 'start' | 'complete' | 'fail';

/** Route templates, for the metric label (never the raw URL with its job id). */
const ROUTES = {
  start: '/internal/jobs/:jobId/start',
  complete: '/internal/jobs/:jobId/complete',
  fail: '/internal/jobs/:jobId/fail',
  batch: '/internal/jobs/callbacks',
} as const;

/** One callback as the batcher holds it: what it is, the job, the single route's body, and the job's trace. */
type Item =
  | { op: 'start'; jobId: string; body: StartBody; traceparent: string | null }
  | { op: 'complete'; jobId: string; body: CompleteBody; traceparent: string | null }
  | { op: 'fail'; jobId: string; body: FailBody; traceparent: string | null };
type Answer = StartResponse | RecordResponse;

type Call = { op: Op | 'batch'; path: string; route: string; body: unknown };

/**
 * Keep-alive connections to the API for callbacks. The batcher keeps about two requests out at
 * once; single-job callbacks, when a batch is out, take the others.
 */
const POOL_CONNECTIONS = 8;

/** Re-sign the service token this long before it expires. */
const TOKEN_TTL_SECONDS = 3600;
const TOKEN_RENEW_MS = 30 * 60 * 1000;

/**
 * The consumers' calls back into the API (service identity). Concurrent callbacks, starts,
 * completions and failures alike, are gathered into one request to the mixed batch route (one
 * HTTP request and one transaction for many jobs, callback-batcher.ts): under load one delivery's
 * complete and the next one's start share it. A callback that comes alone goes to the single-job
 * route, in the job's own trace (its traceparent). Every caller still gets its own job's answer, so the delivery flow is
 * the same either way.
 *
 * Requests go through a circuit breaker (opossum): when the API is down, calls fail at once with
 * ApiUnavailableError instead of each waiting for its timeout, and the consumer puts messages back
 * without spending their attempts. Only unavailability counts against the circuit; a 4xx answer
 * is the caller's problem, not the API's.
 *
 * Callbacks go through an undici Pool of keep-alive connections rather than the global fetch:
 * the same HTTP client without fetch's Request, Response and stream objects, which were about a
 * fifth of a busy consumer's CPU (issue 13).
 */
export class ApiClient {
  readonly #baseUrl: string;
  /** The API URL's path (empty at the root), before each callback's route. */
  readonly #basePath: string;
  /** The service private key (docs/security.md): it signs service tokens and nothing else. */
  readonly #secret: string;
  readonly #timeoutMs: number;
  readonly #breaker: CircuitBreaker<[Call], unknown>;
  readonly #batcher: Batcher<Item, Answer>;
  readonly #pool: Pool;
  #token = '';
  #tokenAt = 0;

  constructor(
    config: Config,
    private readonly logger: Logger,
    private readonly metrics?: ConsumerMetrics,
    opts: ApiClientOptions = {},
  ) {
    this.#baseUrl = config.consumer.apiUrl;
    this.#secret = config.service.privateKey;
    this.#timeoutMs = opts.timeoutMs ?? 5000;
    const base = new URL(this.#baseUrl);
    this.#basePath = base.pathname.replace(/\/$/, '');
    this.#pool = new Pool(base.origin, { connections: POOL_CONNECTIONS });
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

    this.#batcher = new Batcher((b) => this.#send(b), { maxBatch: opts.maxBatch ?? 200 });
  }

  /** True while the circuit is open (calls fail fast). */
  get circuitOpen(): boolean {
    return this.#breaker.opened;
  }

  start(jobId: string, body: StartBody): Promise<StartResponse> {
    return this.#batcher.add({ op: 'start', jobId, body, traceparent: currentTraceparent() }) as Promise<StartResponse>;
  }

  complete(jobId: string, body: CompleteBody): Promise<RecordResponse> {
    const item = { op: 'complete' as const, jobId, body, traceparent: currentTraceparent() };
    return this.#batcher.add(item) as Promise<RecordResponse>;
  }

  fail(jobId: string, body: FailBody): Promise<RecordResponse> {
    return this.#batcher.add({ op: 'fail', jobId, body, traceparent: currentTraceparent() }) as Promise<RecordResponse>;
  }

  /** The job kinds paused now (docs/jobs.md, "Control"); outside the circuit, it says nothing of a job. */
  async pausedKinds(timeoutMs = 1000): Promise<JobKind[]> {
    const res = await fetch(`${this.#baseUrl}/internal/control`, {
      headers: { authorization: `Bearer ${this.#serviceToken()}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new ApiUnavailableError(`control answered ${res.status}`);
    }
    return ((await res.json()) as ControlState).paused;
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

  /** Stops the circuit's timers and closes the connections (requests in flight finish). Idempotent. */
  close(): void {
    this.#breaker.shutdown();
    if (!this.#pool.closed) this.#pool.close().catch(() => {});
  }

  /**
   * One request for the batch: the single-job route for one item (sent from that job's async
   * context, so its trace shows the callback), the mixed batch route for more, which answers
   * each kind's list in its order. A batch the API refuses as invalid is retried item by item,
   * so one bad item cannot take the others down with it.
   */
  async #send(batch: readonly Pending<Item>[]): Promise<(Answer | Error)[]> {
    if (batch.length === 1) {
      const { item: one } = batch[0] as Pending<Item>;
      const path = `/internal/jobs/${encodeURIComponent(one.jobId)}/${one.op}`;
      return [
        await withTraceparent(
          one.traceparent,
          () => this.#call({ op: one.op, path, route: ROUTES[one.op], body: one.body }) as Promise<Answer>,
        ),
      ];
    }
    const lists: Record<Op, Record<string, unknown>[]> = { start: [], complete: [], fail: [] };
    for (const { item: i } of batch) {
      lists[i.op].push({ job_id: i.jobId, ...i.body, ...(i.traceparent ? { traceparent: i.traceparent } : {}) });
    }
    const body = Object.fromEntries(Object.entries(lists).filter(([, list]) => list.length > 0));
    let reply: Partial<Record<Op, ({ job_id?: string } & Record<string, unknown>)[]>>;
    try {
      reply = (await this.#call({ op: 'batch', path: ROUTES.batch, route: ROUTES.batch, body })) as typeof reply;
    } catch (err) {
      if (!(err instanceof ApiRejectedError)) throw err;
      this.logger.warn({ err, jobs: batch.length }, 'batched callbacks refused; sending them one by one');
      return Promise.all(
        batch.map((p) =>
          this.#send([p]).then(
            ([r]) => r as Answer | Error,
            (e: unknown) => (e instanceof Error ? e : new ApiUnavailableError(String(e))),
          ),
        ),
      );
    }
    for (const op of ['start', 'complete', 'fail'] as const) {
      const results = reply[op] ?? [];
      if (results.length !== lists[op].length || results.some((r, i) => r.job_id !== lists[op][i]?.job_id)) {
        throw new ApiUnavailableError(`batched ${op} answered ${results.length} results for ${lists[op].length} jobs`);
      }
    }
    const next = { start: 0, complete: 0, fail: 0 };
    return batch.map(({ item: i }) => {
      const r = (reply[i.op] as unknown[])[next[i.op]++];
      return i.op === 'start' ? withoutJobId(r as StartItemResponse) : recordAnswer(r as RecordItemResponse);
    });
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

  async #post({ op, path, route, body }: Call): Promise<unknown> {
    const started = performance.now();
    let status = 'error';
    try {
      let res: Dispatcher.ResponseData;
      try {
        res = await this.#pool.request({
          method: 'POST',
          path: `${this.#basePath}${path}`,
          headers: { authorization: `Bearer ${this.#serviceToken()}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(this.#timeoutMs),
        });
      } catch (err) {
        throw new ApiUnavailableError(`${op} callback got no answer: ${(err as Error).message}`);
      }
      status = String(res.statusCode);
      const text = await res.body.text().catch(() => '');
      if (res.statusCode >= 200 && res.statusCode < 300) return JSON.parse(text);
      // Auth trouble is a deployment problem (secrets differ), not the job's: keep the message.
      const code = res.statusCode;
      if (code >= 500 || code === 401 || code === 403 || code === 408 || code === 429) {
        throw new ApiUnavailableError(`${op} callback answered ${code}: ${text.slice(0, 200)}`);
      }
      throw new ApiRejectedError(code, `${op} callback refused with ${code}: ${text.slice(0, 500)}`);
    } finally {
      this.metrics?.apiCallDuration.observe({ route, status_code: status }, (performance.now() - started) / 1000);
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

function withoutJobId({ job_id: _, ...rest }: StartItemResponse): StartResponse {
  return rest;
}

/** A batch item the API refused on its own is what the single route answers with 400. */
function recordAnswer({ job_id: _, error, ...rest }: RecordItemResponse): RecordResponse | Error {
  if (rest.outcome === 'rejected') return new ApiRejectedError(400, `callback refused: ${error ?? 'rejected'}`);
  return rest as RecordResponse;
}
