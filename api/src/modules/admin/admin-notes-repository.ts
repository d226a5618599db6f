import { normalizeEmail } from '@notes/contracts';
import type { AdminNote, NoteListQuery, Page } from '@notes/contracts/admin-api';
import { and, eq, type SQL } from 'drizzle-orm';
import { type DbOrTx, parseJsonColumn } from '../../platform/db/client.ts';
import { finishPage, planPage } from '../../platform/db/keyset.ts';
import { type NoteResult, type NoteStatus, notes, users } from '../../platform/db/schema.ts';
import { searchPage } from '../../platform/db/search-walk.ts';
import { cappedCount, exactTotal, pageTotal } from '../../platform/db/totals.ts';
import type { SortField } from '../notes/index.ts';
import { accessIndex, noteOrder, seeksOn } from '../notes/index.ts';
import { countedRows } from './status-counts-repository.ts';

/**
 * The console's notes across every user (admin-repository.ts holds the other admin reads): one
 * page along the index of the list's order, or a search (docs/data.md, "Search").
 */

const field = <F extends string>(sort: string) => sort.replace(/^-/, '') as F;
const forced = (index: string | undefined) => (index ? { forceIndex: index } : undefined);
const iso = (d: Date) => d.toISOString();
const isoOrNull = (d: Date | null) => (d ? d.toISOString() : null);

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

/** The owner filter: a user id, or an email resolved to one first (so the notes index does the rest). */
async function ownerId(db: DbOrTx, user: string): Promise<string | null> {
  if (!user.includes('@')) return user;
  const [row] = await db
    .select({ id: users.id })
    .from(users)
    .where(eq(users.email, normalizeEmail(user)))
    .limit(1);
  return row?.id ?? null;
}

export async function listNotes(db: DbOrTx, q: NoteListQuery): Promise<Page<AdminNote>> {
  const where: SQL[] = [];
  if (q.user) {
    const owner = await ownerId(db, q.user);
    if (owner === null) return { data: [], total: 0, total_exact: true, next_cursor: null };
    where.push(eq(notes.userId, owner));
  }
  if (q.status) where.push(eq(notes.status, q.status));
  if (q.priority) where.push(eq(notes.priority, q.priority));
  const scope = { user: !!q.user, status: !!q.status, priority: !!q.priority };
  const order = noteOrder(field<SortField>(q.sort), scope, (r: NoteRow) => r);
  const page = planPage(order, q);
  if (q.q) {
    const rows = await searchPage({
      db,
      table: notes,
      columns: [notes.title, notes.body],
      order: noteOrder(field<SortField>(q.sort), scope, (r: NoteRow & { body: string }) => r),
      descending: q.sort.startsWith('-'),
      plan: page,
      filters: where,
      q: q.q,
      walkable: seeksOn(order.index, scope),
      read: (cond, limit, offset, index) =>
        db
          .select({ ...noteColumns, body: notes.body })
          .from(notes, forced(index))
          .leftJoin(users, eq(users.id, notes.userId))
          .where(cond)
          .orderBy(...page.orderBy)
          .limit(limit)
          .offset(offset),
      text: (r) => `${r.title} ${r.body}`,
    });
    const { rows: shown, nextCursor } = finishPage(order, q, rows);
    const total = pageTotal(q.offset, shown.length, nextCursor !== null);
    return { data: shown.map(toAdminNote), ...total, next_cursor: nextCursor };
  }
  const onlyStatus = !q.user && !q.priority;
  const filterIndex = noteOrder('created_at', scope, (r: NoteRow) => r).index;
  const total = onlyStatus
    ? await countedRows(db, 'notes', q.status).then(exactTotal)
    : await cappedCount(db, notes, and(...where), filterIndex);
  const rows = await db
    .select(noteColumns)
    .from(notes, forced(accessIndex(order, scope, filterIndex, total)))
    .leftJoin(users, eq(users.id, notes.userId))
    .where(and(...where, page.after))
    .orderBy(...page.orderBy)
    .limit(page.fetch)
    .offset(page.offset);
  const { rows: shown, nextCursor } = finishPage(order, q, rows);
  return { data: shown.map(toAdminNote), ...total, next_cursor: nextCursor };
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
