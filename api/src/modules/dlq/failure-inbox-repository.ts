import type { FailureFilter } from '@notes/contracts';
import { and, asc, count, eq, gt, inArray, like, lt, max, min, type SQL, sql } from 'drizzle-orm';
import { type DbOrTx, isDatabaseUnavailable } from '../../platform/db/client.ts';
import { deadLetters, jobs, notes } from '../../platform/db/schema.ts';
import { rowDelete, rowUpdate, rowUpsert, type Writer, within } from '../../platform/db/sql-writer.ts';

/**
 * SQL of the failure inbox (docs/jobs.md): dead letters in, groups, selections read a page at a
 * time along the primary key, and the two steps of a promote. Writes go through the writer, in
 * the caller's transaction when it passes one.
 */

export type DeadLetterRow = typeof deadLetters.$inferSelect;

/** What to act on: a group, chosen jobs, a filter, or everything. */
export type Selection = { groupId: string } | { jobIds: readonly string[] } | { filter: FailureFilter } | { all: true };

/** Bytes of letters one INSERT carries at most (well under MariaDB's max_allowed_packet). */
const STATEMENT_BYTES = 4 * 1024 * 1024;

/**
 * Files dead letters and returns them as filed. A letter is its own row, keyed by its id (the one
 * its consumer stamped), so only a redelivery of the same dead message lands on the same row. A
 * job has at most one letter: a later death of a job replaces its older letter (a promotion under
 * way keeps its run). A malformed message names its job only as a guess (its message_id): it is
 * filed under that job only when the job exists and has no other letter, otherwise as a letter of
 * its own, so a malformed message never merges with another message nor replaces a job's letter.
 *
 * One row the database refuses (a value that does not fit) never holds up the others: the
 * statement is retried a row at a time, and a row refused alone is filed without its headers.
 * Only an unreachable database fails the call (docs/jobs.md, "The failure inbox").
 */
export async function fileLetters(
  w: Writer,
  rows: readonly DeadLetterRow[],
  opts: { promoting?: boolean } = {},
): Promise<DeadLetterRow[]> {
  const filed = await withJobsResolved(w, rows);
  for (const chunk of byBytes(filed)) {
    try {
      await upsertLetters(w, chunk, opts);
    } catch (err) {
      if (isDatabaseUnavailable(err)) throw err;
      for (const row of chunk) {
        await upsertLetters(w, [row], opts).catch((rowErr: unknown) => {
          if (isDatabaseUnavailable(rowErr)) throw rowErr;
          const why = ` (headers not storable: ${String((rowErr as Error).message).slice(0, 200)})`;
          return upsertLetters(w, [{ ...row, headers: {}, reason: `${row.reason.slice(0, 3700)}${why}` }], opts);
        });
      }
    }
  }
  return filed;
}

/** Malformed letters keep their guessed job only when that job exists and has no other letter. */
async function withJobsResolved(w: Writer, rows: readonly DeadLetterRow[]): Promise<DeadLetterRow[]> {
  const guesses = [...new Set(rows.flatMap((r) => (r.malformed && r.jobId ? [r.jobId] : [])))];
  if (guesses.length === 0) return [...rows];
  const found = await within(w, (tx) =>
    tx.read((db) =>
      db
        .select({ jobId: jobs.id, letterId: deadLetters.id })
        .from(jobs)
        .leftJoin(deadLetters, eq(deadLetters.jobId, jobs.id))
        .where(inArray(jobs.id, guesses)),
    ),
  );
  const free = new Map(found.map((f) => [f.jobId, f.letterId]));
  const taken = new Set(rows.flatMap((r) => (!r.malformed && r.jobId ? [r.jobId] : [])));
  return rows.map((r) => {
    if (!r.malformed || !r.jobId) return r;
    const letter = free.get(r.jobId);
    const ours = letter !== undefined && (letter === null || letter === r.id) && !taken.has(r.jobId);
    if (ours) taken.add(r.jobId);
    return ours ? r : { ...r, jobId: null };
  });
}

function* byBytes(rows: readonly DeadLetterRow[]): Generator<DeadLetterRow[]> {
  let chunk: DeadLetterRow[] = [];
  let bytes = 0;
  for (const row of rows) {
    const size = row.body.length + row.reason.length * 4 + JSON.stringify(row.headers).length * 4;
    if (chunk.length > 0 && bytes + size > STATEMENT_BYTES) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push(row);
    bytes += size;
  }
  if (chunk.length > 0) yield chunk;
}

/**
 * Inserts letters as they are, or updates the row with the same id or the same job (a job has
 * at most one letter; a promotion under way keeps its run). Callers file through fileLetters.
 */
const UPSERTED = [
  'kind',
  'priority',
  'userId',
  'groupId',
  'errorClass',
  'message',
  'reason',
  'malformed',
  'attempt',
  'body',
  'headers',
  'deadAt',
] as const;

async function upsertLetters(w: Writer, rows: readonly DeadLetterRow[], opts: { promoting?: boolean } = {}) {
  if (rows.length === 0) return;
  const upsert = rowUpsert(deadLetters, rows, opts.promoting ? [...UPSERTED, 'promoteRun'] : UPSERTED);
  await within(w, (tx) => tx.execute(upsert));
}

export async function groups(db: DbOrTx, kind?: string) {
  return db
    .select({
      groupId: deadLetters.groupId,
      kind: min(deadLetters.kind),
      errorClass: min(deadLetters.errorClass),
      message: min(deadLetters.message),
      count: count(),
      firstSeen: min(deadLetters.deadAt),
      lastSeen: max(deadLetters.deadAt),
    })
    .from(deadLetters)
    .where(kind ? eq(deadLetters.kind, kind) : undefined)
    .groupBy(deadLetters.groupId)
    .orderBy(sql`COUNT(*) DESC`)
    .limit(1000);
}

/** LIKE pattern for a substring, with the user's wildcards taken literally. */
const contains = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

function where(selection: Selection, now: Date, includeMalformed: boolean): SQL | undefined {
  const parts: (SQL | undefined)[] = [includeMalformed ? undefined : eq(deadLetters.malformed, false)];
  if ('groupId' in selection) parts.push(eq(deadLetters.groupId, selection.groupId));
  else if ('jobIds' in selection) parts.push(inArray(deadLetters.jobId, [...selection.jobIds]));
  else if ('filter' in selection) {
    const f = selection.filter;
    if (f.kind) parts.push(eq(deadLetters.kind, f.kind));
    if (f.user_id) parts.push(eq(deadLetters.userId, f.user_id));
    if (f.reason) parts.push(like(deadLetters.reason, contains(f.reason)));
    if (f.older_than_hours !== undefined) {
      parts.push(lt(deadLetters.deadAt, new Date(now.getTime() - f.older_than_hours * 3_600_000)));
    }
  }
  return and(...parts);
}

export async function countSelection(db: DbOrTx, selection: Selection, now: Date, includeMalformed = false) {
  const [row] = await db
    .select({ n: count() })
    .from(deadLetters)
    .where(where(selection, now, includeMalformed));
  return Number(row?.n ?? 0);
}

/** One page of the selection after `afterId` (primary-key order: a page costs its own rows). */
export async function selectPage(
  db: DbOrTx,
  selection: Selection,
  opts: { afterId: string | null; limit: number; now: Date; includeMalformed?: boolean },
): Promise<DeadLetterRow[]> {
  const page = opts.afterId ? gt(deadLetters.id, opts.afterId) : undefined;
  return db
    .select()
    .from(deadLetters)
    .where(and(where(selection, opts.now, opts.includeMalformed ?? false), page))
    .orderBy(asc(deadLetters.id))
    .limit(opts.limit);
}

/** Step 1 of a promote: the letters carry the run their copies will be published with. */
export async function markPromoting(w: Writer, ids: readonly string[], run: string): Promise<void> {
  if (ids.length === 0) return;
  await within(w, (tx) => tx.execute(rowUpdate(deadLetters, { promoteRun: run }, { id: ids })));
}

/** A promote whose publish failed: the letter stays, as if nothing was tried. */
export async function clearPromoting(w: Writer, ids: readonly string[], run: string): Promise<void> {
  if (ids.length === 0) return;
  await within(w, (tx) => tx.execute(rowUpdate(deadLetters, { promoteRun: null }, { id: ids, promoteRun: run })));
}

/**
 * Step 2, after the copies are confirmed: each letter still promoting with `run` leaves the inbox
 * and its job (if dead) goes back to `queued` in that run, its note with it. Locks jobs before
 * letters, as the start callback does. A letter already gone was taken over by its copy's start.
 * Returns how many letters this step settled.
 */
export async function finishPromotion(w: Writer, letters: readonly DeadLetterRow[], run: string, now: Date) {
  const jobIds = letters.flatMap((l) => (l.jobId ? [l.jobId] : []));
  const letterIds = letters.map((l) => l.id);
  return within(w, async (tx) => {
    // Jobs before letters, as the start callback locks them.
    const [locked, still] = await tx.read(
      async (db) =>
        [
          jobIds.length > 0 ? await db.select().from(jobs).where(inArray(jobs.id, jobIds)).for('update') : [],
          await db
            .select({ id: deadLetters.id, jobId: deadLetters.jobId })
            .from(deadLetters)
            .where(and(inArray(deadLetters.id, letterIds), eq(deadLetters.promoteRun, run)))
            .for('update'),
        ] as const,
    );
    if (still.length === 0) return 0;
    const settledJobs = new Set(still.flatMap((l) => (l.jobId ? [l.jobId] : [])));
    const dead = locked.filter((j) => j.status === 'dead' && settledJobs.has(j.id));
    if (dead.length > 0) {
      await tx.moveStatus(
        'jobs',
        'dead',
        'queued',
        rowUpdate(jobs, promotedJob(run, now), { id: dead.map((j) => j.id), status: 'dead' }),
      );
      tx.jobErrors.changed(dead.map((j) => j.id));
      for (const job of dead.filter((j) => j.kind === 'note.process')) {
        const where = { id: job.noteId, status: 'dead', version: job.noteVersion } as const;
        await tx.moveStatus('notes', 'dead', 'queued', rowUpdate(notes, { status: 'queued' }, where));
      }
    }
    await tx.execute(rowDelete(deadLetters, { id: still.map((l) => l.id) }));
    return still.length;
  });
}

/**
 * Discards letters: they leave the inbox, their dead jobs become `discarded` with the reason.
 * Returns how many letters went.
 */
export async function discardLetters(w: Writer, letters: readonly DeadLetterRow[], reason: string, now: Date) {
  // A letter whose promotion is under way is left to it.
  const jobIds = letters.flatMap((l) => (l.jobId && !l.promoteRun ? [l.jobId] : []));
  return within(w, async (tx) => {
    if (jobIds.length > 0) {
      const discard = { status: 'discarded', deadReason: reason, finishedAt: now, updatedAt: now } as const;
      await tx.moveStatus('jobs', 'dead', 'discarded', rowUpdate(jobs, discard, { id: jobIds, status: 'dead' }));
      tx.jobErrors.changed(jobIds);
    }
    return tx.execute(rowDelete(deadLetters, { id: letters.map((l) => l.id), promoteRun: null }));
  });
}

export async function letterOfJob(db: DbOrTx, jobId: string): Promise<DeadLetterRow | undefined> {
  const [row] = await db.select().from(deadLetters).where(eq(deadLetters.jobId, jobId)).limit(1);
  return row;
}

export async function countLetters(db: DbOrTx): Promise<number> {
  const [row] = await db.select({ n: count() }).from(deadLetters);
  return Number(row?.n ?? 0);
}

/** Which of these jobs have a letter in the inbox. */
export async function jobsWithLetters(db: DbOrTx, jobIds: readonly string[]): Promise<Set<string>> {
  if (jobIds.length === 0) return new Set();
  const rows = await db
    .select({ jobId: deadLetters.jobId })
    .from(deadLetters)
    .where(inArray(deadLetters.jobId, [...jobIds]));
  return new Set(rows.flatMap((r) => (r.jobId ? [r.jobId] : [])));
}

/**
 * What a DLQ promote makes of a dead job: queued again under the promote's run, its attempts and
 * dead reason cleared. The promoter's second step writes it, and so does the first copy of the
 * promoted message to reach the callbacks (jobs/callback-rules.ts).
 */
export function promotedJob(run: string, now: Date) {
  return { status: 'queued', attempts: 0, deadReason: null, finishedAt: null, run, updatedAt: now } as const;
}
