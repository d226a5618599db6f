import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AttemptReport,
  DEFERRED,
  type DeadReason,
  EXCHANGES,
  HEADERS,
  JOB_KINDS,
  jobPublishOptions,
  laneOf,
  ROUTING,
  retryRoutingKey,
  workRoutingKey,
} from '@notes/contracts';
import type { ConsumeMessage, Options } from 'amqplib';
import type { Logger } from 'pino';
import { uuidv7 } from 'uuidv7';
import { failureReport, traceReport } from './attempt-report.ts';
import type { Ctx, Delivery, FlowEnv } from './delivery-context.ts';
import { labels } from './delivery-context.ts';
import { ApiUnavailableError, ChannelGoneError, describeError, EndpointGoneError } from './errors.ts';
import { copyOptions, countOf, withoutDeliveries } from './message-copies.ts';
import { decide } from './retry-policy.ts';

/**
 * How a delivery ends when it does not simply complete (docs/guarantees.md): retried, dead-lettered,
 * deferred, counted as a redelivery, moved to its lane or put back while the API is unreachable.
 * Every copy is published with a confirm before the original is acked.
 */

/** Retry, dead-letter, requeue or abandon, per retry-policy.ts. */
export async function settleFailure(ctx: Ctx, err: unknown): Promise<void> {
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

export async function deadLetter(
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
 * Parks a delivery whose endpoint is busy in notes.webhooks.deferred for a second (then it is
 * back in notes.webhooks with its priority): no attempt spent, no delivery counted, and no
 * prefetch slot held while it waits, so the lane keeps serving other endpoints.
 */
export async function defer(ctx: Ctx): Promise<void> {
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
export async function countRedelivery(ctx: Ctx): Promise<void> {
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
export async function moveToLane(ctx: Ctx): Promise<void> {
  const { d, job, log } = ctx;
  log.info({ lane: laneOf(job.kind) }, 'job in the wrong lane; moving it');
  const options = copyOptions(d.msg, d.msg.properties.headers ?? {});
  if (await publishOrRequeue(ctx, EXCHANGES.work, workRoutingKey(job.kind), options)) d.ack();
}

/** The API is unreachable: after a pause, the message goes back to work with its attempt unspent. */
export async function requeue(ctx: Ctx, why: string): Promise<void> {
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
export async function untilRecorded<T>(env: FlowEnv, log: Logger, report: () => Promise<T>): Promise<T> {
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
export async function parkMalformed(d: Delivery, env: FlowEnv, why: string, attempt: number, run: string | undefined) {
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
