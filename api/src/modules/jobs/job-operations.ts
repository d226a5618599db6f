import {
  type AttemptView,
  assertTopologyOf,
  type Config,
  type ControlRow,
  EXCHANGES,
  encodeJobMessage,
  HEADERS,
  JOB_KINDS,
  type JobDetail,
  type JobKind,
  type JobMessage,
  jobPublishOptions,
  MESSAGE_VERSION,
  type RetryResult,
  workRoutingKey,
} from '@notes/contracts';
import type { ChannelModel, Message } from 'amqplib';
import type { Logger } from 'pino';
import type { Database } from '../../platform/db/client.ts';
import { parseJsonColumn } from '../../platform/db/client.ts';
import { retryRolledBack } from '../../platform/db/retry.ts';
import { ConflictError, NotFoundError, ServiceUnavailableError } from '../../platform/errors/index.ts';
import { recordAudit } from '../admin/index.ts';
import { getUserById } from '../auth/index.ts';
import { letterOfJob } from '../dlq/index.ts';
import {
  type AttemptRow,
  attemptsOfJob,
  findJob,
  type JobRow,
  listControls,
  markRetried,
  setControl,
} from './operations-repository.ts';

export const OPERATIONS_AUDIT = {
  retry: 'job.retry',
  pause: 'control.pause',
  resume: 'control.resume',
} as const;

const CONFIRM_TIMEOUT_MS = 10_000;

export interface JobOperationsDeps {
  config: Config;
  database: Database;
  logger: Pick<Logger, 'info'>;
  connection: () => ChannelModel | null;
}

/** Job inspection, retry-now and pause/resume per kind (docs/jobs.md). Every change is audited. */
export class JobOperations {
  constructor(private readonly deps: JobOperationsDeps) {}

  private get db() {
    return this.deps.database.db;
  }

  async detail(id: string): Promise<JobDetail> {
    const job = await findJob(this.db, id);
    if (!job) throw new NotFoundError(`No job ${id}.`);
    const [attempts, letter] = await Promise.all([attemptsOfJob(this.db, id), letterOfJob(this.db, id)]);
    return {
      id: job.id,
      kind: job.kind,
      note_id: job.noteId,
      user_id: job.userId,
      status: job.status,
      priority: job.priority,
      attempts: job.attempts,
      last_error: job.lastError,
      payload: letter ? bodyOf(letter.body) : messageOf(job),
      created_at: job.createdAt.toISOString(),
      updated_at: job.updatedAt.toISOString(),
      note_version: job.noteVersion,
      webhook_id: job.webhookId,
      dead_reason: job.deadReason,
      started_at: job.startedAt?.toISOString() ?? null,
      finished_at: job.finishedAt?.toISOString() ?? null,
      history: attempts.map(toAttemptView),
    };
  }

  /**
   * Runs a job waiting out its backoff now: a fresh copy of its message goes to work with the
   * attempt its waiting retry copy carries, in the job's run. Whichever copy starts first runs
   * the attempt; the other finds that attempt started (or failed) and does nothing (the start
   * callback's rules; docs/jobs.md, "Retry now").
   */
  async retryNow(actorId: string, id: string): Promise<RetryResult> {
    const job = await findJob(this.db, id);
    if (!job) throw new NotFoundError(`No job ${id}.`);
    if (job.status !== 'failed') {
      throw new ConflictError(
        `Job ${id} is ${job.status}: only a job waiting out its backoff (failed) can be retried now.`,
        'not-waiting',
      );
    }
    const connection = this.deps.connection();
    if (!connection) throw new ServiceUnavailableError('RabbitMQ is not connected; try again in a moment.');
    const options = jobPublishOptions({
      jobId: job.id,
      kind: job.kind,
      priority: job.priority,
      attempt: job.attempts + 1,
      headers: job.run ? { [HEADERS.promotedAt]: job.run } : {},
    });
    await publishOnce(connection, this.deps.config, encodeJobMessage(messageOf(job)), options);
    const now = new Date();
    // One UPDATE, which a callback batch changing the same job may make a deadlock victim; it
    // only moves `failed`, so running it again is safe.
    await retryRolledBack(() => markRetried(this.deps.database.writer, id, now));
    await recordAudit(this.deps.database.writer, this.deps.logger, {
      actorId,
      action: OPERATIONS_AUDIT.retry,
      target: id,
      count: 1,
      detail: { attempt: job.attempts + 1, kind: job.kind },
    });
    return { id, status: (await findJob(this.db, id))?.status ?? 'queued' };
  }

  async controls(): Promise<ControlRow[]> {
    const rows = await listControls(this.db);
    return JOB_KINDS.map((kind) => {
      const row = rows.get(kind);
      return {
        kind,
        paused: row?.paused ?? false,
        changed_at: row?.changedAt.toISOString() ?? null,
        changed_by: row?.changedBy ?? null,
      };
    });
  }

  /** The kinds paused now (what every consumer polls). */
  async pausedKinds(): Promise<JobKind[]> {
    const rows = await listControls(this.db);
    return JOB_KINDS.filter((k) => rows.get(k)?.paused === true);
  }

  /** `actorId` is a user id (shown by its email) or the CLI's `cli:<login>`. */
  async setPaused(actorId: string, kind: JobKind, paused: boolean): Promise<ControlRow> {
    const changedAt = new Date();
    const actor = { id: actorId, name: (await getUserById(this.db, actorId))?.email ?? actorId };
    await this.deps.database.writer.transaction(async (tx) => {
      await setControl(tx, { kind, paused, changedAt, changedBy: actor.name.slice(0, 255) });
      await recordAudit(tx, this.deps.logger, {
        actorId: actor.id,
        action: paused ? OPERATIONS_AUDIT.pause : OPERATIONS_AUDIT.resume,
        target: kind,
        count: 1,
        detail: { kind, paused },
      });
    });
    return { kind, paused, changed_at: changedAt.toISOString(), changed_by: actor.name.slice(0, 255) };
  }
}

/** The job's message as the outbox wrote it (it is made from the job row alone). */
export function messageOf(job: JobRow): JobMessage {
  return {
    v: MESSAGE_VERSION,
    job_id: job.id,
    kind: job.kind,
    note_id: job.noteId,
    note_version: job.noteVersion,
    user_id: job.userId,
    priority: job.priority,
    ...(job.webhookId ? { webhook_id: job.webhookId } : {}),
    created_at: job.createdAt.toISOString(),
  };
}

/** A stored dead message: JSON when it is, else its text. */
function bodyOf(base64: string): unknown {
  const text = Buffer.from(base64, 'base64').toString('utf8');
  try {
    return parseJsonColumn(text);
  } catch {
    return text;
  }
}

function toAttemptView(a: AttemptRow): AttemptView {
  return {
    number: a.number,
    started_at: a.startedAt?.toISOString() ?? null,
    finished_at: a.finishedAt.toISOString(),
    outcome: a.outcome,
    error_class: a.errorClass,
    error_message: a.errorMessage,
    http_status: a.httpStatus,
    response_excerpt: a.responseExcerpt,
    duration_ms: a.durationMs,
    trace_id: a.traceId,
  };
}

/** One message to work on a confirm channel of its own; resolves when confirmed and routed. */
async function publishOnce(
  connection: ChannelModel,
  config: Config,
  content: Buffer,
  options: ReturnType<typeof jobPublishOptions>,
): Promise<void> {
  const ch = await connection.createConfirmChannel();
  ch.on('error', () => {});
  let returned = false;
  ch.on('return', (_msg: Message) => {
    returned = true;
  });
  try {
    await assertTopologyOf(ch, config.retryDelaysMs, config.amqp.queueType);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new ServiceUnavailableError('RabbitMQ did not confirm in time.')),
        CONFIRM_TIMEOUT_MS,
      );
      ch.publish(EXCHANGES.work, workRoutingKey(options.type), content, options, (err) => {
        clearTimeout(timer);
        if (err || returned) reject(new ServiceUnavailableError('RabbitMQ did not take the message.'));
        else resolve();
      });
    });
  } finally {
    await ch.close().catch(() => {});
  }
}
