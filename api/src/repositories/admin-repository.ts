import type {
  AdminJob,
  AdminNote,
  AuditEntry,
  AuditListQuery,
  DlqEntry,
  DlqListQuery,
  JobListQuery,
  NoteListQuery,
} from '@notes/contracts/admin-api';
import { and, asc, count, desc, eq, gte, inArray, like, or, type SQL, sql } from 'drizzle-orm';
import type { MySqlColumn } from 'drizzle-orm/mysql-core';
import { type DbOrTx, parseJsonColumn } from '../db/client.ts';
import { auditLog, type JobStatus, jobs, type NoteResult, type NoteStatus, notes, users } from '../db/schema.ts';

/**
 * The admin console's reads across every user, and the audit log. All SQL for the admin API
 * lives here; users come from users-repository.ts. Lists are one page plus the matching total.
 */

type Page<T> = { data: T[]; total: number };

/** `%q%` for LIKE; the `_ci` collation makes it case-insensitive, the caller's % and _ are literal. */
const contains = (q: string) => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** `field` or `-field` → ORDER BY that column, the id breaking ties so pages never overlap. */
function orderBy(sort: string, columns: Record<string, MySqlColumn>, id: MySqlColumn): SQL[] {
  const direction = sort.startsWith('-') ? desc : asc;
  const column = columns[sort.replace(/^-/, '')];
  return column ? [direction(column), direction(id)] : [desc(id)];
}

const iso = (d: Date) => d.toISOString();
const isoOrNull = (d: Date | null) => (d ? d.toISOString() : null);

// ---------------------------------------------------------------- notes

const noteColumns = {
  id: notes.id,
  userId: notes.userId,
  ownerEmail: users.email,
  title: notes.title,
  priority: notes.priority,
  status: notes.status,
  version: notes.version,
  attempts: notes.attempts,
  lastError: notes.lastError,
  createdAt: notes.createdAt,
  updatedAt: notes.updatedAt,
  processedAt: notes.processedAt,
};
type NoteRow = { [K in keyof typeof noteColumns]: (typeof noteColumns)[K]['_']['data'] | null };

function toAdminNote(r: NoteRow): AdminNote {
  return {
    id: r.id as string,
    user_id: r.userId as string,
    owner_email: r.ownerEmail,
    title: r.title as string,
    priority: r.priority as AdminNote['priority'],
    status: r.status as NoteStatus,
    version: r.version as number,
    attempts: r.attempts as number,
    last_error: r.lastError,
    created_at: iso(r.createdAt as Date),
    updated_at: iso(r.updatedAt as Date),
    processed_at: isoOrNull(r.processedAt),
  };
}

const NOTE_SORT_COLUMNS = {
  created_at: notes.createdAt,
  updated_at: notes.updatedAt,
  processed_at: notes.processedAt,
  title: notes.title,
  priority: notes.priority,
  status: notes.status,
  attempts: notes.attempts,
};

export async function listNotes(db: DbOrTx, q: NoteListQuery): Promise<Page<AdminNote>> {
  const where: SQL[] = [];
  if (q.status) where.push(eq(notes.status, q.status));
  if (q.priority) where.push(eq(notes.priority, q.priority));
  if (q.user)
    where.push(q.user.includes('@') ? eq(users.email, q.user.trim().toLowerCase()) : eq(notes.userId, q.user));
  if (q.q) where.push(or(like(notes.title, contains(q.q)), like(notes.body, contains(q.q))) as SQL);
  const cond = where.length ? and(...where) : undefined;
  const [rows, totals] = await Promise.all([
    db
      .select(noteColumns)
      .from(notes)
      .leftJoin(users, eq(users.id, notes.userId))
      .where(cond)
      .orderBy(...orderBy(q.sort, NOTE_SORT_COLUMNS, notes.id))
      .limit(q.limit)
      .offset(q.offset),
    db.select({ n: count() }).from(notes).leftJoin(users, eq(users.id, notes.userId)).where(cond),
  ]);
  return { data: rows.map(toAdminNote), total: totals[0]?.n ?? 0 };
}

export async function getNote(
  db: DbOrTx,
  id: string,
): Promise<(AdminNote & { body: string; result: NoteResult | null }) | null> {
  const [row] = await db
    .select({ ...noteColumns, body: notes.body, result: notes.result })
    .from(notes)
    .leftJoin(users, eq(users.id, notes.userId))
    .where(eq(notes.id, id))
    .limit(1);
  if (!row) return null;
  return { ...toAdminNote(row), body: row.body, result: parseJsonColumn<NoteResult>(row.result) };
}

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

const JOB_SORT_COLUMNS = {
  created_at: jobs.createdAt,
  updated_at: jobs.updatedAt,
  finished_at: jobs.finishedAt,
  priority: jobs.priority,
  status: jobs.status,
  kind: jobs.kind,
  attempts: jobs.attempts,
};

type JobFilter = Pick<JobListQuery, 'kind' | 'priority' | 'note_id' | 'q'> & { status?: JobStatus };

function jobConditions(f: JobFilter): SQL | undefined {
  const where: SQL[] = [];
  if (f.status) where.push(eq(jobs.status, f.status));
  if (f.kind) where.push(eq(jobs.kind, f.kind));
  if (f.priority) where.push(eq(jobs.priority, f.priority));
  if (f.note_id) where.push(eq(jobs.noteId, f.note_id));
  if (f.q) where.push(or(like(jobs.lastError, contains(f.q)), like(jobs.deadReason, contains(f.q))) as SQL);
  return where.length ? and(...where) : undefined;
}

export async function listJobs(db: DbOrTx, q: JobListQuery): Promise<Page<AdminJob>> {
  const cond = jobConditions(q);
  const [rows, totals] = await Promise.all([
    db
      .select()
      .from(jobs)
      .where(cond)
      .orderBy(...orderBy(q.sort, JOB_SORT_COLUMNS, jobs.id))
      .limit(q.limit)
      .offset(q.offset),
    db.select({ n: count() }).from(jobs).where(cond),
  ]);
  return { data: rows.map(toAdminJob), total: totals[0]?.n ?? 0 };
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
  const cond = jobConditions({ ...q, status: 'dead' });
  const [rows, totals] = await Promise.all([
    db
      .select({ job: jobs, noteTitle: notes.title, ownerEmail: users.email })
      .from(jobs)
      .leftJoin(notes, eq(notes.id, jobs.noteId))
      .leftJoin(users, eq(users.id, jobs.userId))
      .where(cond)
      .orderBy(...orderBy(q.sort, JOB_SORT_COLUMNS, jobs.id))
      .limit(q.limit)
      .offset(q.offset),
    db.select({ n: count() }).from(jobs).where(cond),
  ]);
  const data = rows.map(({ job, noteTitle, ownerEmail }) => ({
    ...toAdminJob(job),
    reason: job.deadReason ?? job.lastError,
    dead_at: iso(job.finishedAt ?? job.updatedAt),
    note_title: noteTitle,
    owner_email: ownerEmail,
  }));
  return { data, total: totals[0]?.n ?? 0 };
}

/** Ids of dead jobs matching a filter, optionally limited to `ids`; oldest death first. */
export async function deadJobIds(
  db: DbOrTx,
  filter: Omit<JobFilter, 'status'>,
  ids?: readonly string[],
  limit = 100_000,
): Promise<string[]> {
  const cond = and(jobConditions({ ...filter, status: 'dead' }), ids ? inArray(jobs.id, [...ids]) : undefined);
  const rows = await db.select({ id: jobs.id }).from(jobs).where(cond).orderBy(asc(jobs.updatedAt)).limit(limit);
  return rows.map((r) => r.id);
}

// ---------------------------------------------------------------- stats

export async function countByStatus(db: DbOrTx, table: 'notes' | 'jobs'): Promise<Record<string, number>> {
  const t = table === 'notes' ? notes : jobs;
  const rows = await db.select({ status: t.status, n: count() }).from(t).groupBy(t.status);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

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

export async function insertAudit(db: DbOrTx, entry: AuditRecord, now = new Date()): Promise<void> {
  await db.insert(auditLog).values({
    actorId: entry.actorId,
    action: entry.action,
    target: entry.target ?? null,
    count: entry.count ?? 0,
    detail: entry.detail ?? null,
    createdAt: now,
  });
}

export async function listAudit(db: DbOrTx, q: AuditListQuery): Promise<Page<AuditEntry>> {
  const where: SQL[] = [];
  if (q.action) where.push(eq(auditLog.action, q.action));
  if (q.actor_id) where.push(eq(auditLog.actorId, q.actor_id));
  if (q.target) where.push(eq(auditLog.target, q.target));
  const cond = where.length ? and(...where) : undefined;
  const [rows, totals] = await Promise.all([
    db
      .select({ entry: auditLog, actorEmail: users.email })
      .from(auditLog)
      .leftJoin(users, eq(users.id, auditLog.actorId))
      .where(cond)
      .orderBy(...orderBy(q.sort, { created_at: auditLog.createdAt, action: auditLog.action }, auditLog.id))
      .limit(q.limit)
      .offset(q.offset),
    db.select({ n: count() }).from(auditLog).where(cond),
  ]);
  const data = rows.map(({ entry, actorEmail }) => ({
    id: Number(entry.id),
    actor_id: entry.actorId,
    actor_email: actorEmail,
    action: entry.action,
    target: entry.target,
    count: entry.count,
    detail: parseJsonColumn<Record<string, unknown>>(entry.detail),
    created_at: iso(entry.createdAt),
  }));
  return { data, total: totals[0]?.n ?? 0 };
}
