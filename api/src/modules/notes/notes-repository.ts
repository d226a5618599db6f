import { and, eq, getTableColumns, type SQL } from 'drizzle-orm';
import { type DbOrTx, parseJsonColumn } from '../../platform/db/client.ts';
import { finishPage, type ListOrder, type PagePlan, planPage } from '../../platform/db/keyset.ts';
import { type NoteResult, notes } from '../../platform/db/schema.ts';
import { searchPage } from '../../platform/db/search-walk.ts';
import {
  namesOf,
  type RowInsert,
  rowInsert,
  type Statement,
  sqlValue,
  type WriteTx,
} from '../../platform/db/sql-writer.ts';
import { cappedCount, pageTotal, type Total } from '../../platform/db/totals.ts';
import { accessIndex, type NoteScope, noteOrder, seeksOn } from './list-orders.ts';
import type { ListNotesQuery, Note, SortField } from './schemas.ts';

/**
 * The SQL of the notes table. Every query is scoped to its owner: another user's note does not
 * exist. Writes are statements for the write path (platform/db/sql-writer.ts); reads use drizzle.
 */
export type NoteRow = typeof notes.$inferSelect;
export type NewNoteRow = typeof notes.$inferInsert;

/** The columns a note as the API shows it is made of (toNote): not `reserve`, nor the owner. */
const VIEW_KEYS = [
  'id',
  'title',
  'body',
  'priority',
  'status',
  'version',
  'result',
  'attempts',
  'lastError',
  'createdAt',
  'updatedAt',
  'processedAt',
] as const satisfies readonly (keyof NoteRow)[];
export type NoteViewRow = Pick<NoteRow, (typeof VIEW_KEYS)[number]>;

/** A row as the API shows it (section 4). MariaDB returns the JSON `result` as a string. */
export function toNote(row: NoteViewRow): Note {
  return {
    id: row.id,
    title: row.title,
    body: row.body,
    priority: row.priority,
    status: row.status,
    version: row.version,
    result: parseJsonColumn<NoteResult>(row.result),
    attempts: row.attempts,
    last_error: row.lastError ?? null,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    processed_at: row.processedAt ? row.processedAt.toISOString() : null,
  };
}

export function noteInsert(row: NewNoteRow): RowInsert {
  return rowInsert(notes, row);
}

export async function findNote(db: DbOrTx, userId: string, id: string): Promise<NoteRow | undefined> {
  const [row] = await db
    .select()
    .from(notes)
    .where(and(eq(notes.id, id), eq(notes.userId, userId)));
  return row;
}

/** Every column under its property name, so a raw row is a NoteRow (dates: mysql2 with timezone Z). */
const NOTE_COLUMNS = Object.entries(getTableColumns(notes))
  .map(([key, column]) => `\`${column.name}\` AS \`${key}\``)
  .join(', ');

/** The columns toNote reads, and the owner, under their property names (a raw row is a NoteViewRow). */
const VIEW_COLUMNS = [...VIEW_KEYS, 'userId' as const].map((key) => `\`${notes[key].name}\` AS \`${key}\``).join(', ');

/**
 * The notes with these ids, whoever owns them (the caller checks `userId`), in one read by
 * primary key of only what toNote needs: the live-event relay's notes for a batch of events by
 * reference (docs/isolation.md, "Live events through the outbox"). A plain read: no lock.
 */
export async function findNoteViews(
  tx: WriteTx,
  ids: readonly string[],
): Promise<(NoteViewRow & Pick<NoteRow, 'userId'>)[]> {
  if (ids.length === 0) return [];
  return tx.query<NoteViewRow & Pick<NoteRow, 'userId'>>({
    sql: `SELECT ${VIEW_COLUMNS} FROM notes WHERE id IN (${ids.map(() => '?').join(', ')})`,
    values: [...ids],
  });
}

/** Locks the row for the rest of the transaction, so a version check and its update are one step. */
export async function findNoteForUpdate(tx: WriteTx, userId: string, id: string): Promise<NoteRow | undefined> {
  const [row] = await tx.query<NoteRow>({
    sql: `SELECT ${NOTE_COLUMNS} FROM notes WHERE id = ? AND user_id = ? FOR UPDATE`,
    values: [id, userId],
  });
  return row;
}

export function updateNote(userId: string, id: string, changes: Partial<Omit<NewNoteRow, 'id' | 'userId'>>): Statement {
  const { columns } = namesOf(notes);
  const entries = Object.entries(changes).filter(([, v]) => v !== undefined);
  return {
    sql: `UPDATE notes SET ${entries.map(([k]) => `\`${columns.get(k)}\` = ?`).join(', ')} WHERE id = ? AND user_id = ?`,
    values: [...entries.map(([, v]) => sqlValue(v)), id, userId],
  };
}

export function deleteNote(userId: string, id: string): Statement {
  return { sql: 'DELETE FROM notes WHERE id = ? AND user_id = ?', values: [id, userId] };
}

/** Newest first by default; the sort's index holds the user's rows in order (list-orders.ts). */
export async function listNotes(
  db: DbOrTx,
  userId: string,
  query: ListNotesQuery,
): Promise<{ rows: NoteRow[]; nextCursor: string | null } & Total> {
  const filters: SQL[] = [eq(notes.userId, userId)];
  if (query.status) filters.push(eq(notes.status, query.status));
  if (query.priority) filters.push(eq(notes.priority, query.priority));
  const field = query.sort.replace(/^-/, '') as SortField;
  const scope = { user: true, status: !!query.status, priority: !!query.priority };
  const order = noteOrder(field, scope, (r: NoteRow) => r);
  const plan = planPage(order, query);
  if (query.q) {
    const rows = await searchNotes(db, query.q, filters, scope, order, plan, query.sort.startsWith('-'));
    const page = finishPage(order, query, rows);
    return { ...page, ...pageTotal(query.offset, page.rows.length, page.nextCursor !== null) };
  }
  const filterIndex = noteOrder('created_at', scope, (r: NoteRow) => r).index;
  const total = await cappedCount(db, notes, and(...filters), filterIndex);
  const index = accessIndex(order, scope, filterIndex, total);
  const rows = await db
    .select()
    .from(notes, index ? { forceIndex: index } : undefined)
    .where(and(...filters, plan.after))
    .orderBy(...plan.orderBy)
    .limit(plan.fetch)
    .offset(plan.offset);
  return { ...finishPage(order, query, rows), ...total };
}

/** One page of a search (search-walk.ts): a walk of the order's index, else the FULLTEXT index. */
function searchNotes(
  db: DbOrTx,
  q: string,
  filters: SQL[],
  scope: NoteScope,
  order: ListOrder<NoteRow>,
  plan: PagePlan,
  descending: boolean,
): Promise<NoteRow[]> {
  return searchPage({
    db,
    table: notes,
    columns: [notes.title, notes.body],
    order,
    descending,
    plan,
    filters,
    q,
    walkable: seeksOn(order.index, scope),
    read: (where, limit, offset, index) =>
      db
        .select()
        .from(notes, index ? { forceIndex: index } : undefined)
        .where(where)
        .orderBy(...plan.orderBy)
        .limit(limit)
        .offset(offset),
    text: (r) => `${r.title} ${r.body}`,
  });
}
