import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AttemptReport,
  annotateActiveSpan,
  attemptOf,
  type Config,
  currentTraceparent,
  DEFERRED,
  type DeadReason,
  decodeJobMessage,
  EXCHANGES,
  HEADERS,
  JOB_KINDS,
  type JobMessage,
  jobPublishOptions,
  type Lane,
  laneOf,
  ROUTING,
  retryRoutingKey,
  SPAN_ATTRIBUTES,
  withoutDeathHeaders,
  workRoutingKey,
} from '@notes/contracts';
import type { ConsumeMessage, Options } from 'amqplib';
import type { Logger } from 'pino';
import { uuidv7 } from 'uuidv7';
import type { ApiClient } from './api-client.ts';
import type { EndpointGate, Release } from './endpoint-gate.ts';
import { ApiUnavailableError, ChannelGoneError, coerceError, describeError, EndpointGoneError } from './errors.ts';
import type { HandlerRegistry } from './handlers/registry.ts';
import type { ConsumerMetrics } from './metrics.ts';
import { decide } from './retry-policy.ts';

/** One message as the flow sees it; the consumer binds it to the channel it came on. */
export interface Delivery {
  readonly msg: ConsumeMessage;
  /** Acks; a no-op once its channel is gone (the broker has requeued it already). */
  ack(): void;
  nack(requeue: boolean): void;
  /** Publishes with a confirm on the delivery's channel; ChannelGoneError once it is gone. */
  publish(exchange: string, routingKey: string, content: Buffer, options: Options.Publish): Promise<void>;
}

export interface FlowEnv {
  config: Config;
  /** The lane this consumer serves; a job of the other lane's kind is moved there, not run. */
  lane: Lane;
  logger: Logger;
  api: ApiClient;
  registry: HandlerRegistry;
  metrics?: ConsumerMetrics;
  /** Aborted when the process stops: handlers end, waits end, nothing new is published. */
  signal: AbortSignal;
  /** Pause before a message goes back to the queue while the API is unreachable. */
  requeuePauseMs: number;
  /** The webhook lane's per-endpoint limit (WEBHOOK_MAX_IN_FLIGHT); absent in the notes lane. */
  gate?: EndpointGate;
  /** Whether a job kind is paused now (docs/jobs.md, "Control"). */
  isPaused?: (kind: string) => boolean;
}

/** How often a held delivery of a paused kind looks whether its kind was resumed. */
const PAUSE_CHECK_MS = 200;

type Ctx = {
  d: Delivery;
  env: FlowEnv;
  job: JobMessage;
  attempt: number;
  run: string | undefined;
  log: Logger;
  /** When the handler started (for the attempt report); unset until /start said to run. */
  startedAt?: Date;
};

/**
 * The life of one delivery (docs/guarantees.md): decode → count deliveries → /start → handler →
 * /complete → ack. On failure the copy goes to a wait queue or the DLQ with a confirm, the API
 * hears of it, and only then is the original acked: the message is never in no queue at all.
 * Never throws.
 */
export async function processDelivery(d: Delivery, env: FlowEnv): Promise<void> {
  const headers = d.msg.properties.headers ?? {};
  const attempt = attemptOf(headers);
  const run = runOf(headers);
  try {
    const decoded = decodeJobMessage(d.msg.content);
    if (!decoded.ok) return await parkMalformed(d, env, decoded.reason, attempt, run);
    const job = decoded.message;
    // The consume span (amqplib's, active here) is the job's span in the trace.
    annotateActiveSpan({
      [SPAN_ATTRIBUTES.jobId]: job.job_id,
      [SPAN_ATTRIBUTES.noteId]: job.note_id,
      [SPAN_ATTRIBUTES.jobKind]: job.kind,
      [SPAN_ATTRIBUTES.priority]: job.priority,
      [SPAN_ATTRIBUTES.attempt]: attempt,
    });
    const log = env.logger.child({ job_id: job.job_id, note_id: job.note_id, kind: job.kind, attempt });
    const ctx: Ctx = { d, env, job, attempt, run, log };
    if (laneOf(job.kind) !== env.lane) return await moveToLane(ctx);
    if (env.isPaused?.(job.kind) && !(await untilResumed(env, job.kind))) return d.nack(true);
    if (d.msg.fields.redelivered) {
      if (env.config.amqp.queueType === 'classic') return await countRedelivery(ctx);
      // A quorum queue counts the deliveries itself: the message stays where it is.
      const lost = countOf(headers['x-delivery-count']) || 1;
      if (lost >= env.config.consumer.maxDeliveries) {
        const reason = `poison: delivered ${lost} times without an outcome`;
        return await deadLetter(ctx, 'poison', reason, reason, { error_class: 'poison', ...traceReport() });
      }
      log.info({ deliveries: lost }, 'redelivered; running it again');
    }

    const release = await admit(ctx);
    if (release === null) return await defer(ctx);
    const created = Date.parse(job.created_at);
    if (Number.isFinite(created)) {
      env.metrics?.queueWaitDuration.observe(labels(job), Math.max(0, Date.now() - created) / 1000);
    }
    env.metrics?.inFlight.inc();
    const started = performance.now();
    try {
      await runJob(ctx);
    } finally {
      release?.();
      env.metrics?.inFlight.dec();
      env.metrics?.processingDuration.observe({ kind: job.kind }, (performance.now() - started) / 1000);
    }
  } catch (err) {
    if (err instanceof ChannelGoneError) return; // the broker redelivers it
    env.logger.error({ err }, 'delivery flow failed; leaving the message to be redelivered');
    d.nack(true);
  }
}

async function runJob(ctx: Ctx): Promise<void> {
  const { d, env, job, attempt, run, log } = ctx;
  let step = 'start';
  try {
    const start = await env.api.start(job.job_id, { attempt, run, first_copy: isFirstCopy(d.msg) });
    if (!start.proceed || !start.note) {
      log.info({ reason: start.reason }, 'job not run');
      d.ack();
      env.metrics?.jobsProcessed.inc({ ...labels(job), outcome: 'skipped' });
      return;
    }
    step = 'handler';
    ctx.startedAt = new Date();
    const outcome = await env.registry.get(job.kind).handle({
      job,
      attempt,
      note: start.note,
      webhook: start.webhook,
      config: env.config,
      logger: log,
      metrics: env.metrics,
      signal: env.signal,
    });
    step = 'complete';
    // The work is done (for webhook.deliver: the receiver has it). While the API is unreachable
    // only this report is retried; running the job again would deliver the webhook twice.
    const report = attemptReport(ctx, outcome.http);
    const recorded = await untilRecorded(env, log, () =>
      env.api.complete(job.job_id, { attempt, run, result: outcome.result, ...report }),
    );
    d.ack();
    // One info line per finished job: it is what links a job's logs to its trace in Loki.
    log.info({ outcome: recorded.outcome }, 'job done');
    env.metrics?.jobsProcessed.inc({ ...labels(job), outcome: recorded.recorded ? 'processed' : 'skipped' });
  } catch (err) {
    log.warn({ err, step }, 'job attempt failed');
    await settleFailure(ctx, err);
  }
}

/**
 * Holds a delivery of a paused kind, unstarted, until the kind is resumed (true) or the process
 * stops (false: it goes back to the queue). Only a queue shared with a kind still running gets
 * here; a queue whose kinds are all paused has its consumer cancelled (consumer.ts).
 */
async function untilResumed(env: FlowEnv, kind: string): Promise<boolean> {
  while (env.isPaused?.(kind)) {
    if (env.signal.aborted) return false;
    await sleep(PAUSE_CHECK_MS, undefined, { signal: env.signal }).catch(() => {});
  }
  return !env.signal.aborted;
}

/** Retry, dead-letter, requeue or abandon, per retry-policy.ts. */
async function settleFailure(ctx: Ctx, err: unknown): Promise<void> {
  const { d, env, job, attempt, run, log } = ctx;
  const decision = decide(err, attempt, env.config);
  const error = describeError(err);
  switch (decision.action) {
    case 'abandon':
      return;
    case 'requeue':
      return requeue(ctx, error);
    case 'retry': {
      const headers = withoutDeliveries(d.msg.properties.headers);
      const options = jobPublishOptions({
        jobId: job.job_id,
        kind: job.kind,
        priority: job.priority,
        attempt: attempt + 1,
        headers,
      });
      if (!(await publishOrRequeue(ctx, EXCHANGES.retry, retryRoutingKey(decision.delayMs, laneOf(job.kind)), options)))
        return;
      env.metrics?.retries.inc({ kind: job.kind });
      env.metrics?.jobsProcessed.inc({ ...labels(job), outcome: 'retried' });
      log.info({ delay_ms: decision.delayMs }, 'job scheduled for retry');
      // The retry copy carries the job on; a lost /fail only costs the job row its last_error.
      const report = failureReport(ctx, err);
      await recordFailure(env, job.job_id, { attempt, run, error, final: false, ...report }, log, false);
      d.ack();
      return;
    }
    case 'dead-letter': {
      const report = failureReport(ctx, err);
      const gone = err instanceof EndpointGoneError;
      return deadLetter(ctx, decision.reason, `${decision.reason}: ${error}`, error, report, gone);
    }
  }
}

async function deadLetter(
  ctx: Ctx,
  kind: DeadReason,
  reason: string,
  error: string,
  report: AttemptReport,
  gone = false,
): Promise<void> {
  const { d, env, job, attempt, run, log } = ctx;
  const headers = {
    ...withoutDeliveries(d.msg.properties.headers),
    [HEADERS.deadReason]: reason,
    [HEADERS.deadAt]: new Date().toISOString(),
    [HEADERS.errorClass]: report.error_class ?? kind,
    [HEADERS.letterId]: uuidv7(),
  };
  const options = jobPublishOptions({ jobId: job.job_id, kind: job.kind, priority: job.priority, attempt, headers });
  if (!(await publishOrRequeue(ctx, EXCHANGES.dead, ROUTING.dead, options))) return;
  env.metrics?.deadLettered.inc({ kind: job.kind, reason: kind });
  env.metrics?.jobsProcessed.inc({ ...labels(job), outcome: 'dead' });
  log.warn({ reason }, 'job dead-lettered');
  // Every accepted write must end processed or dead: the job row has to hear of it before the ack.
  const body = { attempt, run, error, final: true, reason, ...report, ...(gone ? { webhook_gone: true } : {}) };
  await recordFailure(env, job.job_id, body, log, true);
  d.ack();
}

/**
 * A webhook delivery waits for a slot of its endpoint (WEBHOOK_MAX_IN_FLIGHT, docs/isolation.md):
 * a release function once it may run, `null` when the endpoint's line is full and it should be
 * deferred, `undefined` when no limit applies (the notes lane).
 */
async function admit(ctx: Ctx): Promise<Release | null | undefined> {
  const { env, job } = ctx;
  if (!env.gate || job.kind !== 'webhook.deliver' || !job.webhook_id) return undefined;
  return env.gate.enter(job.webhook_id, env.signal);
}

/**
 * Parks a delivery whose endpoint is busy in notes.webhooks.deferred for a second (then it is
 * back in notes.webhooks with its priority): no attempt spent, no delivery counted, and no
 * prefetch slot held while it waits, so the lane keeps serving other endpoints.
 */
async function defer(ctx: Ctx): Promise<void> {
  const { d, env, log } = ctx;
  const options = copyOptions(d.msg, d.msg.properties.headers ?? {});
  if (!(await publishOrRequeue(ctx, EXCHANGES.retry, DEFERRED.routingKey, options))) return;
  env.metrics?.deferred.inc();
  log.debug('endpoint busy; delivery deferred');
  d.ack();
}

/**
 * A redelivery means a delivery ended without an outcome (a crash, a lost channel). A classic
 * queue only flags it, so the count lives in our own header: the message is republished with the count
 * + 1 and the original acked; at MAX_DELIVERIES it is parked in the DLQ as poison.
 */
async function countRedelivery(ctx: Ctx): Promise<void> {
  const { d, env, log } = ctx;
  const headers = d.msg.properties.headers ?? {};
  const lost = countOf(headers[HEADERS.deliveries]) + 1;
  if (lost >= env.config.consumer.maxDeliveries) {
    const reason = `poison: delivered ${lost} times without an outcome`;
    return deadLetter(ctx, 'poison', reason, reason, { error_class: 'poison', ...traceReport() });
  }
  log.info({ deliveries: lost }, 'redelivered; counting it and putting it back');
  const options = copyOptions(d.msg, { ...headers, [HEADERS.deliveries]: lost });
  if (await publishOrRequeue(ctx, EXCHANGES.work, workRoutingKey(ctx.job.kind), options)) d.ack();
}

/**
 * A job in the other lane's queue (published before the lanes existed, or by hand): it moves to
 * its own lane unchanged, so a slow delivery never runs on a note-processing slot.
 */
async function moveToLane(ctx: Ctx): Promise<void> {
  const { d, job, log } = ctx;
  log.info({ lane: laneOf(job.kind) }, 'job in the wrong lane; moving it');
  const options = copyOptions(d.msg, d.msg.properties.headers ?? {});
  if (await publishOrRequeue(ctx, EXCHANGES.work, workRoutingKey(job.kind), options)) d.ack();
}

/** The API is unreachable: after a pause, the message goes back to work with its attempt unspent. */
async function requeue(ctx: Ctx, why: string): Promise<void> {
  const { d, env, log } = ctx;
  log.warn({ why }, 'API unavailable; the message goes back to the queue');
  await sleep(env.requeuePauseMs, undefined, { signal: env.signal }).catch(() => {});
  if (env.signal.aborted) return d.nack(true);
  // A copy rather than a nack: a nacked message comes back flagged redelivered, which would count
  // against its MAX_DELIVERIES. Marked, because /start may have been recorded before the API went
  // away: this copy must then run the job, not be taken for a duplicate (isFirstCopy).
  const headers = d.msg.properties.headers ?? {};
  const options = copyOptions(d.msg, { ...headers, [HEADERS.requeued]: countOf(headers[HEADERS.requeued]) + 1 });
  if (await publishOrRequeue(ctx, EXCHANGES.work, workRoutingKey(ctx.job.kind), options)) d.ack();
}

/** True when confirmed; otherwise the original is nacked back (or abandoned with its channel). */
async function publishOrRequeue(ctx: Ctx, exchange: string, routingKey: string, options: Options.Publish) {
  try {
    await ctx.d.publish(exchange, routingKey, ctx.d.msg.content, options);
    return true;
  } catch (err) {
    if (err instanceof ChannelGoneError) throw err;
    ctx.log.warn({ err, exchange }, 'publish not confirmed; requeueing the original');
    ctx.d.nack(true);
    return false;
  }
}

/**
 * Tells the API a failure. `mustRecord`: keep trying while the API is unreachable (the caller
 * holds the message unacked meanwhile); otherwise one try.
 */
async function recordFailure(
  env: FlowEnv,
  jobId: string,
  body: { attempt: number; run: string | undefined; error: string; final: boolean; reason?: string } & AttemptReport,
  log: Logger,
  mustRecord: boolean,
): Promise<void> {
  try {
    await (mustRecord ? untilRecorded(env, log, () => env.api.fail(jobId, body)) : env.api.fail(jobId, body));
  } catch (err) {
    if (err instanceof ChannelGoneError) throw err;
    if (err instanceof ApiUnavailableError) {
      log.warn({ err }, 'failure not reported (API unavailable); the retry carries the job on');
      return;
    }
    log.error({ err }, 'the API refused the failure report');
  }
}

/**
 * Reports an outcome, trying again every `requeuePauseMs` while the API is unreachable (the
 * caller holds its message unacked meanwhile, and the breaker keeps the tries cheap). On
 * shutdown it gives up with ChannelGoneError: the message is redelivered and its job runs again.
 * Any other error is the caller's.
 */
async function untilRecorded<T>(env: FlowEnv, log: Logger, report: () => Promise<T>): Promise<T> {
  for (let waited = false; ; waited = true) {
    try {
      const answer = await report();
      if (waited) log.info('the API recorded the outcome after an outage');
      return answer;
    } catch (err) {
      if (!(err instanceof ApiUnavailableError)) throw err;
      if (!waited) log.warn({ err }, 'API unavailable; holding the outcome until it records it');
      if (env.signal.aborted) throw new ChannelGoneError('stopping before the API recorded the outcome');
      await sleep(env.requeuePauseMs, undefined, { signal: env.signal }).catch(() => {});
    }
  }
}

/** Bad JSON, unknown kind, failing schema: straight to the DLQ, marked malformed, never retried. */
async function parkMalformed(d: Delivery, env: FlowEnv, why: string, attempt: number, run: string | undefined) {
  const reason = `malformed: ${why}`.slice(0, 1000);
  const { jobId, kind } = readableIdentity(d.msg);
  const log = env.logger.child({ job_id: jobId, message_id: d.msg.properties.messageId });
  const options = copyOptions(d.msg, {
    ...withoutDeliveries(d.msg.properties.headers),
    [HEADERS.malformed]: true,
    [HEADERS.deadReason]: reason,
    [HEADERS.deadAt]: new Date().toISOString(),
    [HEADERS.errorClass]: 'malformed',
    [HEADERS.letterId]: uuidv7(),
  });
  try {
    await d.publish(EXCHANGES.dead, ROUTING.dead, d.msg.content, options);
  } catch (err) {
    if (err instanceof ChannelGoneError) throw err;
    log.warn({ err }, 'malformed message not parked (publish failed); requeueing it');
    return d.nack(true);
  }
  env.metrics?.deadLettered.inc({ kind, reason: 'malformed' });
  log.warn({ reason }, 'malformed message parked in the DLQ');
  if (jobId) {
    const body = { attempt, run, error: reason, final: true, reason, error_class: 'malformed', ...traceReport() };
    await recordFailure(env, jobId, body, log, true);
  }
  d.ack();
}

/** The job id and kind of a message that failed validation, where they can still be read. */
function readableIdentity(msg: ConsumeMessage): { jobId: string | undefined; kind: string } {
  let body: { job_id?: unknown; kind?: unknown } = {};
  try {
    const parsed: unknown = JSON.parse(msg.content.toString('utf8'));
    if (parsed && typeof parsed === 'object') body = parsed as typeof body;
  } catch {}
  const candidates = [body.job_id, msg.properties.messageId];
  const jobId = candidates.find((c): c is string => typeof c === 'string' && /^[\w.:-]{1,64}$/.test(c));
  const kind = (JOB_KINDS as readonly unknown[]).includes(body.kind) ? (body.kind as string) : 'unknown';
  return { jobId, kind };
}

/** The same message again (body, id, priority, type), persistent, with the given headers. */
function copyOptions(msg: ConsumeMessage, headers: Record<string, unknown>): Options.Publish {
  const p = msg.properties;
  const options: Options.Publish = {
    persistent: true,
    mandatory: true,
    headers: withoutDeathHeaders(headers),
    timestamp: Math.floor(Date.now() / 1000),
  };
  if (p.contentType) options.contentType = p.contentType;
  if (p.messageId) options.messageId = p.messageId;
  if (p.type) options.type = p.type;
  if (typeof p.priority === 'number') options.priority = p.priority;
  if (p.correlationId) options.correlationId = p.correlationId;
  if (p.appId) options.appId = p.appId;
  return options;
}

/** The headers a new attempt (or a dead copy) starts with: no delivery or requeue counts. */
function withoutDeliveries(headers: Record<string, unknown> | undefined): Record<string, unknown> {
  // x-delivery-count: a quorum queue's count for the old message, meaningless on a new one.
  const { [HEADERS.deliveries]: _d, [HEADERS.requeued]: _r, 'x-delivery-count': _q, ...rest } = headers ?? {};
  return rest;
}

/** A count header's value; anything but a non-negative integer counts as 0. */
function countOf(raw: unknown): number {
  const n = Number(raw ?? 0);
  return Number.isInteger(n) && n >= 0 ? n : 0;
}

/**
 * True for the first copy of a job's message: not redelivered, not republished as a counted
 * redelivery, not put back while the API was unreachable. Such a copy of a job that another
 * delivery is running is a duplicate publish; /start tells it not to run (docs/guarantees.md).
 */
function isFirstCopy(msg: ConsumeMessage): boolean {
  const headers = msg.properties.headers ?? {};
  return (
    !msg.fields.redelivered && countOf(headers[HEADERS.deliveries]) === 0 && countOf(headers[HEADERS.requeued]) === 0
  );
}

/** The run a promoted job is in (its promotion time); undefined for the first run. */
function runOf(headers: Record<string, unknown>): string | undefined {
  const raw = headers[HEADERS.promotedAt];
  if (raw === undefined || raw === null || raw === '') return undefined;
  const text = raw instanceof Date ? String(raw.getTime()) : String(raw);
  return text.replace(/[^A-Za-z0-9:._-]/g, '_').slice(0, 40) || undefined;
}

/** The job's trace (its consume span is active while the flow runs). */
function traceReport(): Pick<AttemptReport, 'trace_id'> {
  const traceId = currentTraceparent()?.slice(3, 35);
  return traceId && /^[0-9a-f]{32}$/.test(traceId) && !/^0+$/.test(traceId) ? { trace_id: traceId } : {};
}

/** What the API keeps of a finished attempt (docs/jobs.md, "Attempts"). */
function attemptReport(ctx: Ctx, http?: { status: number; excerpt: string }): AttemptReport {
  const report: AttemptReport = { ...traceReport() };
  if (ctx.startedAt) {
    report.started_at = ctx.startedAt.toISOString();
    report.duration_ms = Math.max(0, Date.now() - ctx.startedAt.getTime());
  }
  if (http && http.status >= 100 && http.status <= 999) {
    report.http_status = http.status;
    if (http.excerpt) report.response_excerpt = http.excerpt;
  }
  return report;
}

/** The attempt report of a failure: its class, and a webhook endpoint's answer when there was one. */
function failureReport(ctx: Ctx, err: unknown): AttemptReport {
  const details = (err as { details?: { status?: unknown; excerpt?: unknown } } | null)?.details;
  const status = typeof details?.status === 'number' ? details.status : undefined;
  const excerpt = typeof details?.excerpt === 'string' ? details.excerpt : '';
  const report = attemptReport(ctx, status ? { status, excerpt } : undefined);
  const name = coerceError(err)
    .name.replace(/[^\w.$-]/g, '')
    .slice(0, 100);
  if (name) report.error_class = name;
  return report;
}

const labels = (job: JobMessage) => ({ kind: job.kind, priority: job.priority });
