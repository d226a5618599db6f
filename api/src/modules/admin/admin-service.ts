import { type Config, QUEUES, topologyQueuesOf } from '@notes/contracts';
import type {
  AdminNoteDetail,
  AdminUser,
  AuditListQuery,
  DiscardResult,
  DlqListQuery,
  JobListQuery,
  NoteListQuery,
  PromoteBody,
  PromoteResult,
  QueuesResponse,
  StatsResponse,
  UserListQuery,
  UserPatch,
} from '@notes/contracts/admin-api';
import type { ChannelModel } from 'amqplib';
import type { Logger } from 'pino';
import type { Database } from '../../platform/db/client.ts';
import { JOB_STATUSES, NOTE_STATUSES } from '../../platform/db/schema.ts';
import { BadRequestError, ConflictError, NotFoundError, ServiceUnavailableError } from '../../platform/errors/index.ts';
import { getUserById, listUsers, type UserRow, updateUser } from '../auth/index.ts';
import type { FailureInbox } from '../dlq/index.ts';
import { discardDlq, jobsWithLetters, promoteDlq } from '../dlq/index.ts';
import type { AdminWebhook, AdminWebhookListQuery } from '../webhooks/index.ts';
import { listAllWebhooks, toPublicWebhook } from '../webhooks/index.ts';
import * as repo from './admin-repository.ts';
import { AUDIT_ACTIONS, recordAudit } from './audit-service.ts';
import { checkQueues } from './queue-depths.ts';
import { countsByStatus } from './status-counts-repository.ts';
import { ThroughputWindow } from './throughput-window.ts';

export interface AdminServiceDeps {
  config: Config;
  database: Database;
  amqp: { connection: ChannelModel | null };
  logger: Logger;
  /** The failure inbox, where the API's drainer keeps dead messages (failure-inbox.ts). */
  inbox: FailureInbox;
  /** Drops the auth plugin's cached user state so a role or disabled change applies at once. */
  forgetUserState(id: string): void;
}

export const THROUGHPUT_WINDOW_MINUTES = 15;

/**
 * The admin API's rules (docs/operations.md): reads across all users, DLQ promote and discard (moving
 * messages is dlq-service.ts's job, shared with `npm run promote-dlq`), user management, queue
 * depths and statistics. Every change is audited.
 */
export class AdminService {
  readonly #throughput: ThroughputWindow;

  constructor(private readonly deps: AdminServiceDeps) {
    this.#throughput = new ThroughputWindow(
      (since) => repo.finishedPerMinute(this.db, since),
      THROUGHPUT_WINDOW_MINUTES,
    );
  }

  private get db() {
    return this.deps.database.db;
  }

  listNotes(q: NoteListQuery) {
    return repo.listNotes(this.db, q);
  }

  async getNote(id: string): Promise<AdminNoteDetail> {
    const note = await repo.getNote(this.db, id);
    if (!note) throw new NotFoundError(`No note ${id}.`);
    return { ...note, jobs: await repo.jobsOfNote(this.db, id) };
  }

  listJobs(q: JobListQuery) {
    return repo.listJobs(this.db, q);
  }

  async getJob(id: string) {
    const job = await repo.getJob(this.db, id);
    if (!job) throw new NotFoundError(`No job ${id}.`);
    return job;
  }

  listDlq(q: DlqListQuery) {
    return repo.listDeadJobs(this.db, q);
  }

  private connection(): ChannelModel {
    const connection = this.deps.amqp.connection;
    if (!connection) throw new ServiceUnavailableError('RabbitMQ is not connected; try again in a moment.');
    return connection;
  }

  /**
   * Promotes dead jobs back to work: those in `job_ids` that are dead, or every dead job that
   * matches `filter`, or (neither) all of them. The selection is made in the database; the
   * failure inbox moves those whose message it holds (failure-inbox.ts), and notes.dlq is read
   * for the rest (messages no API has drained yet; dlq-service.ts).
   */
  async promote(actorId: string, body: PromoteBody): Promise<PromoteResult> {
    const dryRun = body.dry_run ?? false;
    const includeMalformed = body.include_malformed ?? false;
    const everything = !body.job_ids && !body.filter;
    const selected = everything ? null : await repo.deadJobIds(this.db, body.filter ?? {}, body.job_ids);
    const notDead = body.job_ids ? body.job_ids.length - (selected?.length ?? 0) : 0;
    if (selected && selected.length === 0) {
      return { dry_run: dryRun, matched: 0, promoted: 0, skipped: notDead, missing: 0, failed: 0, job_ids: [] };
    }
    const connection = this.connection();
    const inInbox = selected ? [...(await jobsWithLetters(this.db, selected))] : null;
    const fromInbox =
      inInbox === null || inInbox.length > 0
        ? await this.deps.inbox.promote(inInbox ? { jobIds: inInbox } : { all: true }, {
            actorId,
            dryRun,
            includeMalformed,
            audit: false,
          })
        : { matched: 0, moved: 0, failed: 0, job_ids: [] as string[] };
    const rest = selected?.filter((id) => !inInbox?.includes(id)) ?? null;
    const summary =
      rest === null || rest.length > 0
        ? await promoteDlq({
            connection,
            database: this.deps.database,
            config: this.deps.config,
            ...(rest ? { jobIds: rest } : {}),
            dryRun,
            includeMalformed,
          })
        : { examined: 0, promoted: 0, malformed: 0, failed: 0, promotedJobIds: [] as string[] };
    const promoted = (dryRun ? fromInbox.matched : fromInbox.moved) + summary.promoted;
    const failed = fromInbox.failed + summary.failed;
    const matched = selected ? selected.length : fromInbox.matched + summary.examined;
    const result: PromoteResult = {
      dry_run: dryRun,
      matched,
      promoted,
      skipped: notDead + summary.malformed,
      missing: selected ? Math.max(0, matched - promoted - summary.malformed - failed) : 0,
      failed,
      job_ids: [...fromInbox.job_ids, ...summary.promotedJobIds].slice(0, 1000),
    };
    if (!dryRun) {
      await recordAudit(this.deps.database.writer, this.deps.logger, {
        actorId,
        action: AUDIT_ACTIONS.promote,
        target: body.job_ids?.length === 1 ? body.job_ids[0] : everything ? 'all' : 'selection',
        count: result.promoted,
        detail: {
          ...(body.job_ids ? { requested: body.job_ids.length } : {}),
          ...(body.filter ? { filter: body.filter } : {}),
          matched,
          skipped: result.skipped,
          missing: result.missing,
          failed: result.failed,
          job_ids: result.job_ids.slice(0, 100),
        },
      });
    }
    return result;
  }

  /**
   * Discards a dead job: its letter leaves the failure inbox (or its messages leave notes.dlq)
   * for good and the job becomes `discarded`. Only dead jobs (or orphan dead messages with no
   * job row) can be discarded.
   */
  async discard(actorId: string, jobId: string, reason?: string): Promise<DiscardResult> {
    const job = await repo.getJob(this.db, jobId);
    if (job && job.status !== 'dead') {
      throw new ConflictError(`Job ${jobId} is ${job.status}, not dead: only dead jobs can be discarded.`, 'not-dead');
    }
    const why = reason ?? 'discarded by an operator';
    const connection = this.connection();
    const fromInbox = await this.deps.inbox.discard({ jobIds: [jobId] }, { actorId, reason: why, audit: false });
    const outcome = await discardDlq({
      connection,
      database: this.deps.database,
      config: this.deps.config,
      jobId,
      reason: why,
    });
    const removed = (fromInbox.discarded ?? 0) + outcome.removedMessages;
    if (!outcome.jobFound && removed === 0) throw new NotFoundError(`No dead job ${jobId}.`);
    await recordAudit(this.deps.database.writer, this.deps.logger, {
      actorId,
      action: AUDIT_ACTIONS.discard,
      target: jobId,
      count: 1,
      detail: { reason: why, removed_messages: removed, job_found: outcome.jobFound },
    });
    return { job_id: jobId, status: 'discarded', removed_messages: removed };
  }

  async listUsers(q: UserListQuery) {
    const { items, nextCursor, ...total } = await listUsers(this.db, q as Parameters<typeof listUsers>[1]);
    return { data: items.map(toAdminUser), ...total, next_cursor: nextCursor };
  }

  /** Every user's webhook endpoints, with the ones disabled after a 410 Gone (docs/isolation.md). */
  async listWebhooks(q: AdminWebhookListQuery): Promise<{ data: AdminWebhook[]; total: number }> {
    const { items, total } = await listAllWebhooks(this.db, q);
    return { data: items.map((row) => ({ ...toPublicWebhook(row), user_id: row.userId })), total };
  }

  async getUser(id: string): Promise<AdminUser> {
    const row = await getUserById(this.db, id);
    if (!row || row.role === 'service') throw new NotFoundError(`No user ${id}.`);
    return toAdminUser(row);
  }

  /**
   * Changes a user's role or disabled flag. An admin can't demote or disable themselves: the
   * console would lock its only operator out with one click.
   */
  async updateUser(actorId: string, id: string, patch: UserPatch): Promise<AdminUser> {
    if (id === actorId && (patch.role === 'user' || patch.disabled === true)) {
      throw new BadRequestError('You cannot demote or disable your own account.', {
        field: patch.disabled === true ? 'disabled' : 'role',
      });
    }
    const updated = await this.deps.database.writer.transaction(async (tx) => {
      const before = await tx.read((db) => getUserById(db, id));
      if (!before || before.role === 'service') throw new NotFoundError(`No user ${id}.`);
      // A new role or a disable revokes the account's tokens (docs/security.md); re-enabling
      // does not bring back the tokens the disable revoked.
      const revokeTokens =
        (patch.role !== undefined && patch.role !== before.role) || (patch.disabled === true && !before.disabled);
      const after = await updateUser(tx, id, { role: patch.role, disabled: patch.disabled, revokeTokens });
      if (!after) throw new NotFoundError(`No user ${id}.`);
      await recordAudit(tx, this.deps.logger, {
        actorId,
        action: AUDIT_ACTIONS.updateUser,
        target: id,
        count: 1,
        detail: {
          email: after.email,
          before: { role: before.role, disabled: before.disabled },
          after: { role: after.role, disabled: after.disabled },
        },
      });
      return after;
    });
    this.deps.forgetUserState(id);
    return toAdminUser(updated);
  }

  listAudit(q: AuditListQuery) {
    return repo.listAudit(this.db, q);
  }

  /**
   * Depth and consumers of every queue of the topology, asked with a passive declare on a
   * short-lived channel. `unacked` is null: a passive declare reports only ready messages, and
   * the broker's management API is not part of our configuration; `in_flight_jobs` (jobs the
   * database holds as processing) stands in as the count of work held by consumers.
   */
  async queues(): Promise<QueuesResponse> {
    const names = topologyQueuesOf(this.deps.config.retryDelaysMs, this.deps.config.amqp.queueType);
    const [depths, byStatus] = await Promise.all([
      checkQueues(
        this.deps.amqp.connection,
        names.map((n) => n.name),
      ),
      countsByStatus(this.db, 'jobs'),
    ]);
    return {
      connected: this.deps.amqp.connection !== null,
      queues: names.map((n) => {
        const d = depths.get(n.name);
        return {
          ...n,
          ready: d && 'ready' in d ? d.ready : null,
          unacked: null,
          consumers: d && 'ready' in d ? d.consumers : null,
          ...(d && 'error' in d ? { error: d.error } : {}),
        };
      }),
      in_flight_jobs: byStatus.processing ?? 0,
    };
  }

  /**
   * Status counts (from the counters the database keeps, not a COUNT over the tables),
   * throughput over the last 15 minutes (a range of the covering finished-at index, settled
   * minutes remembered: throughput-window.ts) and the DLQ's size. The dashboard polls this
   * every few seconds (docs/data.md, "Stats").
   */
  async stats(now = new Date()): Promise<StatsResponse> {
    const [noteCounts, jobCounts, minutes, dlq] = await Promise.all([
      countsByStatus(this.db, 'notes'),
      countsByStatus(this.db, 'jobs'),
      this.#throughput.perMinute(now),
      checkQueues(this.deps.amqp.connection, [QUEUES.dead]),
    ]);
    const total = minutes.reduce((sum, m) => sum + m.finished, 0);
    const dlqDepth = dlq.get(QUEUES.dead);
    return {
      notes: { total: sum(noteCounts), by_status: withZeros(NOTE_STATUSES, noteCounts) },
      jobs: { total: sum(jobCounts), by_status: withZeros(JOB_STATUSES, jobCounts) },
      throughput: {
        window_minutes: THROUGHPUT_WINDOW_MINUTES,
        per_minute: Math.round((total / THROUGHPUT_WINDOW_MINUTES) * 100) / 100,
        minutes,
      },
      dlq: { jobs: jobCounts.dead ?? 0, messages: dlqDepth && 'ready' in dlqDepth ? dlqDepth.ready : null },
      generated_at: now.toISOString(),
    };
  }
}

function toAdminUser(row: UserRow): AdminUser {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    role: row.role,
    disabled: row.disabled,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

/** Every status present in the answer, zero when there is none, so charts don't lose a series. */
function withZeros(statuses: readonly string[], counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(statuses.map((s) => [s, counts[s] ?? 0]));
}
