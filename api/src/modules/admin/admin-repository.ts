import type {
  AdminJob,
  AuditEntry,
  AuditListQuery,
  DlqEntry,
  DlqListQuery,
  JobListQuery,
  JobSortField,
  Page,
} from '@notes/contracts/admin-api';
import { and, asc, count, desc, eq, gte, inArray, type SQL, sql } from 'drizzle-orm';
import { type DbOrTx, parseJsonColumn } from '../../platform/db/client.ts';
import { finishPage, type ListOrder, type PagePlan, type PageRequest, planPage } from '../../platform/db/keyset.ts';
import { auditLog, type JobStatus, jobErrors, jobs, notes, users } from '../../platform/db/schema.ts';
import { rowInsert, type Writer, within } from '../../platform/db/sql-writer.ts';
import { cappedCount, exactTotal, pageTotal, type Total } from '../../platform/db/totals.ts';
import { accessIndex, auditOrder, jobOrder } from '../notes/index.ts';
import { type JobFilter, jobConditions, jobScope, searchJobs } from './job-search-repository.ts';
import { countedRows } from './status-counts-repository.ts';

/**
 * The admin console's reads across every user, and the audit log. All SQL for the admin API
 * lives here; users come from users-repository.ts. A list is one page read along an index
 * (list-orders.ts), the cursor of the next page, and a total that is exact where cheap
 * (docs/data.md, "Totals").
 */

const field = <F extends string>(sort: string) => sort.replace(/^-/, '') as F;
const forced = (index: string | undefined) => (index ? { forceIndex: index } : undefined);

const iso = (d: Date) => d.toISOString();
const isoOrNull = (d: Date | null) => (d ? d.toISOString() : null);

export { getNote, listNotes } from './admin-notes-repository.ts';

// ---------------------------------------------------------------- jobs

type JobRow = typeof jobs.$inferSelect;

export function toAdminJob(r: JobRow): AdminJob {
  return {
    id: r.id,
    note_id: r.noteId,
    user_id: r.userId,
    kind: r.kind,
    priority: r.priority,
    status: r.status,
    note_version: r.noteVersion,
    webhook_id: r.webhookId,
    attempts: r.attempts,
    last_error: r.lastError,
    dead_reason: r.deadReason,
    created_at: iso(r.createdAt),
    updated_at: iso(r.updatedAt),
    started_at: isoOrNull(r.startedAt),
    finished_at: isoOrNull(r.finishedAt),
  };
}

/**
 * Exact from the counters when the only filter is the status; a search's from its page
 * (pageTotal); otherwise counted up to the cap.
 */
function jobTotal(db: DbOrTx, f: JobFilter, where: SQL[]): Promise<Total | null> {
  if (f.q) return Promise.resolve(null);
  if (!f.kind && !f.priority && !f.note_id) return countedRows(db, 'jobs', f.status).then(exactTotal);
  return cappedCount(db, jobs, and(...where), jobFilterIndex(f));
}

/** The index that seeks on the filters (the newest-first order's). */
const jobFilterIndex = (f: JobFilter) => jobOrder('created_at', jobScope(f), (r: JobRow) => r).index;

/**
 * A job list's rows: a search through job-search-repository.ts (the jobs that carry error text), otherwise
 * one page along the order's index.
 */
function jobRows<Row>(
  db: DbOrTx,
  f: JobFilter & PageRequest,
  order: ListOrder<Row>,
  page: PagePlan,
  total: Total | null,
  read: (where: SQL | undefined, limit: number, offset: number, index: string | undefined) => Promise<Row[]>,
  job: (row: Row) => JobRow,
): Promise<Row[]> {
  if (f.q) {
    const byIds = (ids: string[]) => read(inArray(jobs.id, ids), ids.length, 0, undefined);
    return searchJobs(db, { ...f, q: f.q }, f, byIds, (row) => job(row).id);
  }
  return read(
    and(...jobConditions(f), page.after),
    page.fetch,
    page.offset,
    accessIndex(order, jobScope(f), jobFilterIndex(f), total),
  );
}

export async function listJobs(db: DbOrTx, q: JobListQuery): Promise<Page<AdminJob>> {
  const order = jobOrder(field<JobSortField>(q.sort), jobScope({ ...q, q: undefined }), (r: JobRow) => r);
  const page = planPage(order, q);
  const total = await jobTotal(db, q, jobConditions(q));
  const rows = await jobRows(
    db,
    q,
    order,
    page,
    total,
    (where, limit, offset, index) =>
      db
        .select()
        .from(jobs, forced(index))
        .where(where)
        .orderBy(...page.orderBy)
        .limit(limit)
        .offset(offset),
    (r) => r,
  );
  const { rows: shown, nextCursor } = finishPage(order, q, rows);
  const counted = total ?? pageTotal(q.offset, shown.length, nextCursor !== null);
  return { data: shown.map(toAdminJob), ...counted, next_cursor: nextCursor };
}

export async function getJob(db: DbOrTx, id: string): Promise<AdminJob | null> {
  const [row] = await db.select().from(jobs).where(eq(jobs.id, id)).limit(1);
  return row ? toAdminJob(row) : null;
}

/** A note's job history, newest first (capped: a note rewritten thousands of times is rare). */
export async function jobsOfNote(db: DbOrTx, noteId: string, limit = 200): Promise<AdminJob[]> {
  const rows = await db
    .select()
    .from(jobs)
    .where(eq(jobs.noteId, noteId))
    .orderBy(desc(jobs.createdAt), desc(jobs.id))
    .limit(limit);
  return rows.map(toAdminJob);
}

// ---------------------------------------------------------------- DLQ (dead jobs)

export async function listDeadJobs(db: DbOrTx, q: DlqListQuery): Promise<Page<DlqEntry>> {
  const filter = { ...q, status: 'dead' as const };
  const where = jobConditions(filter);
  type Row = { job: JobRow; noteTitle: string | null; ownerEmail: string | null };
  const order = jobOrder(field<JobSortField>(q.sort), jobScope({ ...filter, q: undefined }), (r: Row) => r.job);
  const page = planPage(order, q);
  const total = await jobTotal(db, filter, where);
  const read = (cond: SQL | undefined, limit: number, offset: number, index: string | undefined) =>
    db
      .select({ job: jobs, noteTitle: notes.title, ownerEmail: users.email })
      .from(jobs, forced(index))
      .leftJoin(notes, eq(notes.id, jobs.noteId))
      .leftJoin(users, eq(users.id, jobs.userId))
      .where(cond)
      .orderBy(...page.orderBy)
      .limit(limit)
      .offset(offset) as Promise<Row[]>;
  const rows = await jobRows(db, filter, order, page, total, read, (r) => r.job);
  const { rows: shown, nextCursor } = finishPage(order, q, rows);
  const data = shown.map(({ job, noteTitle, ownerEmail }) => ({
    ...toAdminJob(job),
    reason: job.deadReason ?? job.lastError,
    dead_at: iso(job.finishedAt ?? job.updatedAt),
    note_title: noteTitle,
    owner_email: ownerEmail,
  }));
  return { data, ...(total ?? pageTotal(q.offset, shown.length, nextCursor !== null)), next_cursor: nextCursor };
}

/**
 * Ids of dead jobs matching a filter, optionally limited to `ids`; oldest death first. A search
 * selects from `job_errors` alone (it holds every job the words can match, with the same status
 * and updated_at), so the matches are filtered and ordered there, not looked up in jobs one by one.
 */
export async function deadJobIds(
  db: DbOrTx,
  filter: Omit<JobFilter, 'status'>,
  ids?: readonly string[],
  limit = 100_000,
): Promise<string[]> {
  const table = filter.q ? jobErrors : jobs;
  const cond = and(
    ...jobConditions({ ...filter, status: 'dead' }, table),
    ids ? inArray(table.id, [...ids]) : undefined,
  );
  const rows = await db.select({ id: table.id }).from(table).where(cond).orderBy(asc(table.updatedAt)).limit(limit);
  return rows.map((r) => r.id);
}

// ---------------------------------------------------------------- stats

/**
 * Jobs finished since `since`, per UTC minute and outcome. DATE_FORMAT works on the stored
 * value, which the pool writes in UTC (timezone 'Z').
 */
export async function finishedPerMinute(
  db: DbOrTx,
  since: Date,
): Promise<{ minute: string; status: JobStatus; n: number }[]> {
  const minute = sql<string>`DATE_FORMAT(${jobs.finishedAt}, '%Y-%m-%dT%H:%i:00.000Z')`;
  const rows = await db
    .select({ minute, status: jobs.status, n: count() })
    .from(jobs)
    .where(gte(jobs.finishedAt, since))
    .groupBy(minute, jobs.status);
  return rows.map((r) => ({ minute: String(r.minute), status: r.status, n: Number(r.n) }));
}

// ---------------------------------------------------------------- audit log

export interface AuditRecord {
  actorId: string;
  action: string;
  target?: string | null;
  count?: number;
  detail?: Record<string, unknown> | null;
}

export async function insertAudit(w: Writer, entry: AuditRecord, now = new Date()): Promise<void> {
  const row = rowInsert(auditLog, {
    actorId: entry.actorId,
    action: entry.action,
    target: entry.target ?? null,
    count: entry.count ?? 0,
    detail: entry.detail ?? null,
    createdAt: now,
  });
  await within(w, async (tx) => tx.insert(row));
}

export async function listAudit(db: DbOrTx, q: AuditListQuery): Promise<Page<AuditEntry>> {
  const where: SQL[] = [];
  if (q.action) where.push(eq(auditLog.action, q.action));
  if (q.actor_id) where.push(eq(auditLog.actorId, q.actor_id));
  if (q.target) where.push(eq(auditLog.target, q.target));
  type Row = { entry: typeof auditLog.$inferSelect; actorEmail: string | null };
  const scope = { action: !!q.action, actor: !!q.actor_id, target: !!q.target };
  const order = auditOrder(field<'created_at' | 'action'>(q.sort), scope, (r: Row) => r.entry);
  const page = planPage(order, q);
  const [rows, total] = await Promise.all([
    db
      .select({ entry: auditLog, actorEmail: users.email })
      .from(auditLog, forced(order.index))
      .leftJoin(users, eq(users.id, auditLog.actorId))
      .where(and(...where, page.after))
      .orderBy(...page.orderBy)
      .limit(page.fetch)
      .offset(page.offset),
    cappedCount(db, auditLog, and(...where), auditOrder('created_at', scope, (r: Row) => r.entry).index),
  ]);
  const { rows: shown, nextCursor } = finishPage(order, q, rows as Row[]);
  const data = shown.map(({ entry, actorEmail }) => ({
    id: Number(entry.id),
    actor_id: entry.actorId,
    actor_email: actorEmail,
    action: entry.action,
    target: entry.target,
    count: entry.count,
    detail: parseJsonColumn<Record<string, unknown>>(entry.detail),
    created_at: iso(entry.createdAt),
  }));
  return { data, ...total, next_cursor: nextCursor };
}
