import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { QUEUES } from '@notes/contracts';
import { Redis } from 'ioredis';
import { pipelineQueues, queueDepths } from './broker.ts';
import type { Product } from './product.ts';
import type { WebhookReceiver } from './webhook-receiver.ts';
import type { LoadReport } from './write-load.ts';

/**
 * The guarantee (docs/guarantees.md), checked from the outside after a fault:
 * - every 201 has exactly one note, and a write that got no answer has at most one;
 * - every note and job ends settled (processed or dead; a job may be skipped as stale);
 * - no effect applied twice: one note.process job per note version, one webhook.deliver job per
 *   endpoint per processed note.process job (the /complete that enqueues them ran once), one
 *   recorded completion per processed job, one `note.processed` event per processed job, and the
 *   receiver got each webhook-id once, unless a crash interrupted that very delivery;
 * - the outbox is empty and the queues drain (the DLQ holds exactly the dead jobs);
 * - no process exited that the test did not stop.
 */
export interface PipelineCheck {
  product: Product;
  amqpUrl: string;
  /** The users whose notes are checked (every note they own). */
  userIds: readonly string[];
  load?: LoadReport;
  receiver?: WebhookReceiver;
  /**
   * Instants a process that may have been sending webhooks was killed: a second delivery of a
   * webhook-id is allowed only if the earlier one arrived before one of these.
   */
  faultTimes?: readonly number[];
  /** Dead jobs are allowed (default: none may die). */
  allowDead?: boolean;
  /** Messages expected in notes.dlq (default: one per dead job). */
  expectDlq?: number;
  /**
   * note.processed live events per processed note.process job: 'exact' (default), 'at-most'
   * (the API may have died between a callback's commit and its event: never more than one),
   * or 'skip' (Redis was down, events are lost by design).
   */
  events?: 'exact' | 'at-most' | 'skip';
  redisUrl?: string;
  settleMs?: number;
}

export interface PipelineSummary {
  notes: number;
  processed: number;
  dead: number;
  jobs: number;
  webhookJobs: number;
  duplicateDeliveries: number;
  /** note.processed events lost (only counted with events: 'at-most'). */
  missingEvents: number;
}

type NoteRow = { id: string; user_id: string; title: string; status: string; version: number };
type JobRow = { id: string; note_id: string; kind: string; status: string; note_version: number };

const SETTLED_JOB = new Set(['processed', 'dead', 'skipped', 'discarded']);

export async function checkPipeline(c: PipelineCheck): Promise<PipelineSummary> {
  const { product } = c;
  const retryDelays = product.env.RETRY_DELAYS_MS!.split(',').map(Number);
  const queues = pipelineQueues(retryDelays, product.env.QUEUE_TYPE === 'quorum' ? 'quorum' : 'classic');
  const users = c.userIds.map(() => '?').join(',');

  // 1. Everything settles: no unsent outbox row, no note or job in flight, the work queues empty.
  const deadline = Date.now() + (c.settleMs ?? 90_000);
  let state = '';
  for (;;) {
    const unsent = await product.count('SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL');
    const openNotes = await product.query<{ status: string; n: number }>(
      `SELECT status, COUNT(*) AS n FROM notes WHERE user_id IN (${users}) AND status NOT IN ('processed','dead') GROUP BY status`,
      [...c.userIds],
    );
    const openJobs = await product.query<{ status: string; n: number }>(
      `SELECT status, COUNT(*) AS n FROM jobs WHERE user_id IN (${users}) AND status NOT IN ('processed','dead','skipped','discarded') GROUP BY status`,
      [...c.userIds],
    );
    const depths = await queueDepths(c.amqpUrl, queues).catch((err) => ({ error: String(err) }));
    const busy = Object.entries(depths).some(
      ([q, d]) => q !== QUEUES.dead && typeof d === 'object' && (d as { messages: number }).messages > 0,
    );
    state = JSON.stringify({ unsent, openNotes, openJobs, depths, crashes: product.crashes().map((x) => x.name) });
    if (unsent === 0 && openNotes.length === 0 && openJobs.length === 0 && !busy && !('error' in depths)) break;
    if (Date.now() > deadline) assert.fail(`the pipeline did not settle: ${state}`);
    await sleep(250);
  }

  const notes = await product.query<NoteRow>(
    `SELECT id, user_id, title, status, version FROM notes WHERE user_id IN (${users})`,
    [...c.userIds],
  );
  const jobs = await product.query<JobRow>(
    `SELECT id, note_id, kind, status, note_version FROM jobs WHERE user_id IN (${users})`,
    [...c.userIds],
  );
  const endpoints = new Map<string, number>();
  for (const r of await product.query<{ user_id: string; n: number }>(
    `SELECT user_id, COUNT(*) AS n FROM webhooks WHERE user_id IN (${users}) GROUP BY user_id`,
    [...c.userIds],
  )) {
    endpoints.set(r.user_id, Number(r.n));
  }

  // 2. Every 201 has exactly one note; an unanswered write at most one; a rejected one none.
  if (c.load) {
    assert.deepEqual(c.load.mismatches, [], 'a replay named a different note than the first 201');
    const byTitle = new Map<string, NoteRow[]>();
    for (const n of notes) byTitle.set(n.title, [...(byTitle.get(n.title) ?? []), n]);
    for (const [key, accepted] of c.load.accepted) {
      const found = byTitle.get(key) ?? [];
      assert.equal(found.length, 1, `write ${key} answered 201 but has ${found.length} notes`);
      assert.equal(found[0]?.id, accepted.noteId, `write ${key}: the 201 named another note`);
    }
    for (const key of c.load.undetermined) {
      assert.ok((byTitle.get(key) ?? []).length <= 1, `unanswered write ${key} made two notes`);
    }
    for (const r of c.load.rejected) assert.equal(byTitle.get(r.key)?.length ?? 0, 0, `rejected ${r.key} wrote`);
  }

  // 3. Each note: one note.process job per version; the webhook jobs the processed ones enqueued, once.
  const jobsByNote = new Map<string, JobRow[]>();
  for (const j of jobs) jobsByNote.set(j.note_id, [...(jobsByNote.get(j.note_id) ?? []), j]);
  for (const n of notes) {
    const mine = jobsByNote.get(n.id) ?? [];
    const process = mine.filter((j) => j.kind === 'note.process');
    assert.equal(process.length, n.version, `note ${n.id} (v${n.version}) has ${process.length} note.process jobs`);
    const done = process.filter((j) => j.status === 'processed');
    assert.ok(done.length <= n.version, `note ${n.id}: more results than versions`);
    if (n.status === 'processed') {
      assert.ok(
        done.some((j) => j.note_version === n.version),
        `note ${n.id} processed without its job`,
      );
    }
    const hooks = mine.filter((j) => j.kind === 'webhook.deliver');
    const want = done.length * (endpoints.get(n.user_id) ?? 0);
    assert.equal(
      hooks.length,
      want,
      `note ${n.id}: ${hooks.length} webhook jobs, want ${want} (result applied twice?)`,
    );
  }
  for (const j of jobs) assert.ok(SETTLED_JOB.has(j.status), `job ${j.id} is ${j.status}`);
  const dead = jobs.filter((j) => j.status === 'dead');
  if (!c.allowDead) assert.deepEqual(dead, [], 'no job may die in this test');

  // 4. Each processed job's completion was recorded (the processed-message key of its /complete).
  const unrecorded = await product.count(
    `SELECT COUNT(*) FROM jobs j WHERE j.user_id IN (${users}) AND j.status = 'processed' AND NOT EXISTS
       (SELECT 1 FROM processed_messages pm WHERE pm.message_key LIKE CONCAT('job:', j.id, ':%:complete'))`,
    [...c.userIds],
  );
  assert.equal(unrecorded, 0, 'processed jobs without a recorded completion');

  // 5. The DLQ holds exactly the dead jobs' messages; nothing else is left anywhere.
  const depths = await queueDepths(c.amqpUrl, queues);
  assert.equal(depths[QUEUES.dead]?.messages ?? 0, c.expectDlq ?? dead.length, 'notes.dlq depth');

  // 6. The receiver: every processed delivery arrived; a repeat only of one a crash interrupted.
  let duplicateDeliveries = 0;
  if (c.receiver) {
    const successes = c.receiver.successes();
    const hookJobs = new Map(jobs.filter((j) => j.kind === 'webhook.deliver').map((j) => [j.id, j]));
    const lastFault = Math.max(0, ...(c.faultTimes ?? []));
    const anyHookJob = new Set(
      (await product.query<{ id: string }>(`SELECT id FROM jobs WHERE kind = 'webhook.deliver'`)).map((r) => r.id),
    );
    for (const [id, list] of successes) {
      assert.ok(anyHookJob.has(id), `the receiver got webhook-id ${id}, which is no webhook job`);
      if (!hookJobs.has(id)) continue; // another test's user, checked there
      if (list.length > 1) {
        duplicateDeliveries += list.length - 1;
        for (const d of list.slice(0, -1)) {
          assert.ok(d.at < lastFault, `webhook ${id} delivered ${list.length} times with no crash in between`);
        }
      }
    }
    for (const job of hookJobs.values()) {
      if (job.status === 'processed')
        assert.ok(successes.has(job.id), `webhook job ${job.id} processed, never received`);
    }
  }

  // 7. One note.processed live event per processed note.process job.
  let missingEvents = 0;
  if ((c.events ?? 'exact') !== 'skip') {
    const redis = new Redis(c.redisUrl ?? product.ns.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    try {
      const processedEvents = new Map<string, number>();
      for (const userId of c.userIds) {
        const entries = await redis.xrange(`${product.ns.redisKeyPrefix}live:${userId}`, '-', '+');
        for (const [, fields] of entries) {
          const type = fields[fields.indexOf('type') + 1];
          if (type !== 'note.processed') continue;
          const id = (JSON.parse(fields[fields.indexOf('data') + 1] ?? '{}') as { id?: string }).id ?? '';
          processedEvents.set(id, (processedEvents.get(id) ?? 0) + 1);
        }
      }
      for (const n of notes) {
        const done = (jobsByNote.get(n.id) ?? []).filter((j) => j.kind === 'note.process' && j.status === 'processed');
        const seen = processedEvents.get(n.id) ?? 0;
        if (c.events === 'at-most') {
          assert.ok(seen <= done.length, `note ${n.id}: ${seen} note.processed events for ${done.length} results`);
          missingEvents += done.length - seen;
        } else {
          assert.equal(seen, done.length, `note ${n.id}: note.processed events`);
        }
      }
    } finally {
      redis.disconnect();
    }
  }

  // 8. Nothing died that the test did not kill.
  assert.deepEqual(
    product.crashes().map((x) => `${x.name} exited ${x.code ?? x.signal}: ${x.output.slice(-1500)}`),
    [],
    'a process exited by itself',
  );
  return {
    notes: notes.length,
    processed: notes.filter((n) => n.status === 'processed').length,
    dead: dead.length,
    jobs: jobs.length,
    webhookJobs: jobs.filter((j) => j.kind === 'webhook.deliver').length,
    duplicateDeliveries,
    missingEvents,
  };
}
