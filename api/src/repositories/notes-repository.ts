import { and, asc, count, desc, eq, or, type SQL, sql } from 'drizzle-orm';
import { type DbOrTx, parseJsonColumn, type Tx } from '../db/client.ts';
import { type NoteResult, notes } from '../db/schema.ts';
import type { ListNotesQuery, Note, SortField } from '../schemas/notes.ts';

/** The SQL of the notes table. Every query is scoped to its owner: another user's note does not exist. */
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

export async function insertNote(tx: Tx, row: NewNoteRow): Promise<void> {
  await tx.insert(notes).values(row);
}

export async function findNote(db: DbOrTx, userId: string, id: string): Promise<NoteRow | undefined> {
  const [row] = await db
    .select()
    .from(notes)
    .where(and(eq(notes.id, id), eq(notes.userId, userId)));
  return row;
}

/** Locks the row for the rest of the transaction, so a version check and its update are one step. */
export async function findNoteForUpdate(tx: Tx, userId: string, id: string): Promise<NoteRow | undefined> {
  const [row] = await tx
    .select()
    .from(notes)
    .where(and(eq(notes.id, id), eq(notes.userId, userId)))
    .for('update');
  return row;
}

export async function updateNote(
  tx: Tx,
  userId: string,
  id: string,
  changes: Partial<Omit<NewNoteRow, 'id' | 'userId'>>,
): Promise<void> {
  await tx
    .update(notes)
    .set(changes)
    .where(and(eq(notes.id, id), eq(notes.userId, userId)));
}

export async function deleteNote(tx: Tx, userId: string, id: string): Promise<void> {
  await tx.delete(notes).where(and(eq(notes.id, id), eq(notes.userId, userId)));
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
