import http from 'node:http';
import https from 'node:https';
import {
  assertSafeUrl,
  type Config,
  createGuardedLookup,
  RESPONSE_EXCERPT_BYTES,
  UnsafeUrlError,
} from '@notes/contracts';
import CircuitBreaker from 'opossum';
import { Webhook } from 'standardwebhooks';

/**
 * One webhook delivery per the Standard Webhooks spec (https://www.standardwebhooks.com/):
 * a POST of the JSON payload with `webhook-id` (the job id, so it is the same on every retry of
 * one delivery), `webhook-timestamp` (seconds) and `webhook-signature` (`v1,` + base64
 * HMAC-SHA256 of `${id}.${timestamp}.${body}`, signed by the `standardwebhooks` package).
 *
 * A 2xx is success; `410 Gone` is final (the handler reports it and the API disables the
 * endpoint); anything else, a timeout or a network error is a retryable failure (the
 * job waits in the retry tiers). Redirects are not followed: a 3xx is a failure like any other
 * non-2xx, so a receiver can't bounce us to an internal address. The SSRF check runs again at
 * delivery, on the very DNS answer the connection uses; a refused address is not retryable.
 */

export interface WebhookTarget {
  id: string;
  url: string;
  /** `whsec_` + base64. */
  secret: string;
}

export interface WebhookPayload {
  type: 'note.processed';
  /** ISO 8601: when this payload was built. */
  timestamp: string;
  data: unknown;
}

export interface DeliverWebhookArgs {
  webhook: WebhookTarget;
  /** The job id: the stable `webhook-id` across retries of this delivery. */
  messageId: string;
  payload: WebhookPayload;
  config: { webhook: Pick<Config['webhook'], 'timeoutMs' | 'allowPrivateNetworks'> };
  /** Aborts the request (consumer shutdown). */
  signal?: AbortSignal;
}

export interface DeliveryResult {
  status: number;
  durationMs: number;
  /** The first 1 KiB of the answer, kept with the attempt (docs/jobs.md, "Attempts"). */
  excerpt?: string;
}

/** `retryable: false` means retrying can't help (the URL is refused); the job should go to the DLQ. */
export class WebhookDeliveryError extends Error {
  override name = 'WebhookDeliveryError';
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly details: { status?: number; code?: string; excerpt?: string; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
  }
}

export function noteProcessedPayload(note: unknown, now = new Date()): WebhookPayload {
  return { type: 'note.processed', timestamp: now.toISOString(), data: note };
}

export interface WebhookDelivererOptions {
  /** Failures (in the rolling window) before the error rate can open an endpoint's breaker. Default 5. */
  volumeThreshold?: number;
  /** Error percentage that opens the breaker. Default 50. */
  errorThresholdPercentage?: number;
  /** How long an open breaker fails fast before it lets one trial delivery through. Default 30 s. */
  resetTimeoutMs?: number;
  /** The rolling window the error rate is measured over. Default 60 s. */
  rollingCountTimeoutMs?: number;
  /** Breakers kept (least recently used dropped beyond this). Default 1000. */
  maxEndpoints?: number;
  /** Bytes of a response body read (and thrown away) before the connection is dropped. Default 64 KiB. */
  maxResponseBytes?: number;
}

const USER_AGENT = 'notes-pipeline-webhooks/1';

/**
 * Delivers webhooks with one circuit breaker (opossum) per endpoint: an endpoint that keeps
 * failing is skipped fast (a retryable error without a request, so its deliveries wait in the
 * retry tiers instead of tying up consumers for a full timeout each), and after the reset
 * timeout one trial delivery decides whether it closes again.
 */
export class WebhookDeliverer {
  readonly #opts: Required<WebhookDelivererOptions>;
  readonly #breakers = new Map<string, CircuitBreaker<[DeliverWebhookArgs, string], DeliveryResult>>();

  constructor(opts: WebhookDelivererOptions = {}) {
    this.#opts = {
      volumeThreshold: 5,
      errorThresholdPercentage: 50,
      resetTimeoutMs: 30_000,
      rollingCountTimeoutMs: 60_000,
      maxEndpoints: 1000,
      maxResponseBytes: 64 * 1024,
      ...opts,
    };
  }

  async deliver(args: DeliverWebhookArgs): Promise<DeliveryResult> {
    const { webhook, config } = args;
    try {
      await assertSafeUrl(webhook.url, { allowPrivateNetworks: config.webhook.allowPrivateNetworks });
    } catch (err) {
      throw refusal(err);
    }
    const body = JSON.stringify(args.payload);
    const breaker = this.#breaker(webhook.id);
    try {
      return await breaker.fire(args, body);
    } catch (err) {
      if ((err as { code?: string }).code === 'EOPENBREAKER') {
        throw new WebhookDeliveryError(`endpoint ${webhook.id} is failing; its circuit is open`, true, {
          code: 'circuit-open',
        });
      }
      throw err;
    }
  }

  /** 'closed' | 'open' | 'half-open', or undefined for an endpoint never tried. */
  breakerState(webhookId: string): 'closed' | 'open' | 'half-open' | undefined {
    const b = this.#breakers.get(webhookId);
    if (!b) return undefined;
    return b.halfOpen ? 'half-open' : b.opened ? 'open' : 'closed';
  }

  /** Stops every breaker's timers. */
  shutdown(): void {
    for (const b of this.#breakers.values()) b.shutdown();
    this.#breakers.clear();
  }

  #breaker(id: string) {
    let b = this.#breakers.get(id);
    if (b) {
      // Least recently used goes first: re-insert on use.
      this.#breakers.delete(id);
      this.#breakers.set(id, b);
      return b;
    }
    b = new CircuitBreaker((args: DeliverWebhookArgs, body: string) => this.#post(args, body), {
      timeout: false, // ours is WEBHOOK_TIMEOUT_MS, enforced in #post
      volumeThreshold: this.#opts.volumeThreshold,
      errorThresholdPercentage: this.#opts.errorThresholdPercentage,
      resetTimeout: this.#opts.resetTimeoutMs,
      rollingCountTimeout: this.#opts.rollingCountTimeoutMs,
      enableSnapshots: false,
      // Refusals and our own shutdown say nothing about the endpoint's health.
      errorFilter: (err: unknown) =>
        err instanceof WebhookDeliveryError && (!err.retryable || err.details.code === 'aborted'),
    });
    this.#breakers.set(id, b);
    if (this.#breakers.size > this.#opts.maxEndpoints) {
      const [oldestId, oldest] = this.#breakers.entries().next().value!;
      oldest.shutdown();
      this.#breakers.delete(oldestId);
    }
    return b;
  }

  #post(args: DeliverWebhookArgs, body: string): Promise<DeliveryResult> {
    const { webhook, messageId, config, signal } = args;
    const url = new URL(webhook.url);
    const sentAt = new Date();
    let signature: string;
    try {
      signature = new Webhook(webhook.secret).sign(messageId, sentAt, body);
    } catch (err) {
      return Promise.reject(new WebhookDeliveryError('the endpoint secret is unusable', false, { cause: err }));
    }
    const headers = {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'user-agent': USER_AGENT,
      'webhook-id': messageId,
      'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
      'webhook-signature': signature,
    };
    const started = performance.now();
    const timeoutMs = config.webhook.timeoutMs;
    const lookup = createGuardedLookup({ allowPrivateNetworks: config.webhook.allowPrivateNetworks });

    return new Promise<DeliveryResult>((resolve, reject) => {
      if (signal?.aborted) {
        reject(new WebhookDeliveryError('delivery aborted', true, { code: 'aborted' }));
        return;
      }
      let settled = false;
      const finish = (err: WebhookDeliveryError | null, status = 0, excerpt = '') => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve({ status, durationMs: performance.now() - started, excerpt });
      };
      const client = url.protocol === 'https:' ? https : http;
      const req = client.request(url, { method: 'POST', headers, lookup, agent: false }, (res) => {
        const status = res.statusCode ?? 0;
        let read = 0;
        const head: Buffer[] = [];
        res.on('data', (chunk: Buffer) => {
          if (read < RESPONSE_EXCERPT_BYTES) head.push(chunk.subarray(0, RESPONSE_EXCERPT_BYTES - read));
          read += chunk.length;
          if (read > this.#opts.maxResponseBytes) res.destroy(); // the status and the excerpt are all we keep
        });
        res.on('error', () => {});
        res.on('close', () => {
          const excerpt = excerptOf(Buffer.concat(head));
          if (status >= 200 && status < 300) finish(null, status, excerpt);
          // Standard Webhooks: 410 means the receiver wants no more deliveries. Not retryable.
          else if (status === 410)
            finish(new WebhookDeliveryError('endpoint answered 410 Gone', false, { status, code: 'gone', excerpt }));
          else
            finish(
              new WebhookDeliveryError(`endpoint answered ${status}`, true, { status, code: 'http-status', excerpt }),
            );
        });
      });
      const timer = setTimeout(() => {
        finish(new WebhookDeliveryError(`no answer within ${timeoutMs} ms`, true, { code: 'timeout' }));
        req.destroy();
      }, timeoutMs);
      const onAbort = () => {
        finish(new WebhookDeliveryError('delivery aborted', true, { code: 'aborted' }));
        req.destroy();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err: Error & { code?: string }) => {
        if (err instanceof UnsafeUrlError) finish(refusal(err));
        else finish(new WebhookDeliveryError(`request failed: ${err.message}`, true, { code: err.code, cause: err }));
      });
      req.end(body);
    });
  }
}

/** At most 1 KiB of an answer as text, never ending inside a UTF-8 character. */
export function excerptOf(bytes: Buffer): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, RESPONSE_EXCERPT_BYTES));
  // A character cut at the end decodes as U+FFFD: drop it, then keep within the byte budget.
  let out = text.endsWith('\uFFFD') ? text.slice(0, -1) : text;
  while (out.length > RESPONSE_EXCERPT_BYTES) out = out.slice(0, -1);
  return out;
}

/** An SSRF refusal is final, except a name that does not resolve right now (DNS may recover). */
function refusal(err: unknown): WebhookDeliveryError {
  if (err instanceof UnsafeUrlError) {
    return new WebhookDeliveryError(`refused: ${err.message}`, err.reason === 'unresolvable', {
      code: `ssrf-${err.reason}`,
      cause: err,
    });
  }
  return new WebhookDeliveryError(`refused: ${(err as Error).message}`, true, { cause: err });
}

const defaultDeliverer = new WebhookDeliverer();

/** Delivers one webhook through the process-wide deliverer (one breaker per endpoint). */
export function deliverWebhook(args: DeliverWebhookArgs): Promise<DeliveryResult> {
  return defaultDeliverer.deliver(args);
}
