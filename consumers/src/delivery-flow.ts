import { setTimeout as sleep } from 'node:timers/promises';
import { annotateActiveSpan, attemptOf, decodeJobMessage, laneOf, SPAN_ATTRIBUTES } from '@notes/contracts';
import { attemptReport, traceReport } from './attempt-report.ts';
import type { Ctx, Delivery, FlowEnv } from './delivery-context.ts';
import { labels } from './delivery-context.ts';
import {
  countRedelivery,
  deadLetter,
  defer,
  moveToLane,
  parkMalformed,
  settleFailure,
  untilRecorded,
} from './delivery-settle.ts';
import type { Release } from './endpoint-gate.ts';
import { ChannelGoneError } from './errors.ts';
import { countOf, isFirstCopy, runOf } from './message-copies.ts';

export type { Delivery, FlowEnv } from './delivery-context.ts';

/** How often a held delivery of a paused kind looks whether its kind was resumed. */
const PAUSE_CHECK_MS = 200;

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
