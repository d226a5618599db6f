import { and, asc, count, desc, eq, getTableColumns, or, type SQL, sql } from 'drizzle-orm';
import { type DbOrTx, parseJsonColumn } from '../db/client.ts';
import { type NoteResult, notes } from '../db/schema.ts';
import { namesOf, type RowInsert, rowInsert, type Statement, sqlValue, type WriteTx } from '../db/sql-writer.ts';
import type { ListNotesQuery, Note, SortField } from '../schemas/notes.ts';

/**
 * The SQL of the notes table. Every query is scoped to its owner: another user's note does not
 * exist. Writes are statements for the write path (db/sql-writer.ts); reads use drizzle.
 */
export type NoteRow = typeof notes.$inferSelect;
export type NewNoteRow = typeof notes.$inferInsert;

/** A row as the API shows it (section 4). MariaDB returns the JSON `result` as a string. */
export function toNote(row: NoteRow): Note {
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

const SORT_COLUMNS = {
  created_at: notes.createdAt,
  updated_at: notes.updatedAt,
  title: notes.title,
  // ENUM columns sort by declaration order: low < … < max, queued < … < dead.
  priority: notes.priority,
  status: notes.status,
} as const satisfies Record<SortField, unknown>;

/** `q` is matched literally: LIKE's wildcards and our escape character are escaped. */
export function likePattern(q: string): string {
  return `%${q.replace(/[!%_]/g, (c) => `!${c}`)}%`;
}

/**
 * Case-insensitive substring match: both sides lower-cased and compared by code point (the
 * table's unicode_ci collation would also fold accents, which is more than "case-insensitive").
 */
function matches(column: typeof notes.title | typeof notes.body, pattern: string): SQL {
  return sql`LOWER(${column}) COLLATE utf8mb4_bin LIKE LOWER(${pattern}) ESCAPE '!'`;
}

export async function listNotes(
  db: DbOrTx,
  userId: string,
  query: ListNotesQuery,
): Promise<{ rows: NoteRow[]; total: number }> {
  const filters: SQL[] = [eq(notes.userId, userId)];
  if (query.status) filters.push(eq(notes.status, query.status));
  if (query.priority) filters.push(eq(notes.priority, query.priority));
  if (query.q) {
    const pattern = likePattern(query.q);
    filters.push(or(matches(notes.title, pattern), matches(notes.body, pattern)) as SQL);
  }
  const where = and(...filters);
  const descending = query.sort.startsWith('-');
  const field = (descending ? query.sort.slice(1) : query.sort) as SortField;
  const direction = descending ? desc : asc;
  const [rows, totals] = await Promise.all([
    db
      .select()
      .from(notes)
      .where(where)
      // The id (UUIDv7, time-ordered) breaks ties so pages never overlap or skip.
      .orderBy(direction(SORT_COLUMNS[field]), direction(notes.id))
      .limit(query.limit)
      .offset(query.offset),
    db.select({ total: count() }).from(notes).where(where),
  ]);
  return { rows, total: Number(totals[0]?.total ?? 0) };
}
