import type { JobListQuery, JobSortField } from '@notes/contracts/admin-api';
import { eq, type SQL, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../platform/db/client.ts';
import { fulltextMatch } from '../../platform/db/fulltext.ts';
import { type PageRequest, planPage } from '../../platform/db/keyset.ts';
import { type JobStatus, jobErrors, jobs } from '../../platform/db/schema.ts';
import { searchPage } from '../../platform/db/search-walk.ts';
import { jobOrder, seeksOn } from '../notes/index.ts';

/**
 * The console's job lists' filters, and their search (docs/data.md, "Search"). Only jobs that
 * failed, died, were skipped or discarded carry error text: a small share of all jobs. A search
 * therefore reads `job_errors`, which holds exactly those jobs with the columns the lists filter
 * and sort on and the same order indexes as `jobs`: it walks that table's index in the list's
 * order (or matches its FULLTEXT index), so its cost follows the jobs with errors, not the
 * table, and only the page's jobs are then read by primary key.
 */

export type JobFilter = Pick<JobListQuery, 'kind' | 'priority' | 'note_id' | 'q'> & { status?: JobStatus };

type Columns = typeof jobs | typeof jobErrors;

/** Words of the error texts: the jobs whose `job_errors` row matches. */
const errorMatch = (q: string): SQL =>
  sql`${jobs.id} IN (SELECT ${jobErrors.id} FROM ${jobErrors} WHERE ${fulltextMatch([jobErrors.lastError, jobErrors.deadReason], q)})`;

/** The filters as conditions on `jobs` (a search as a match in `job_errors`), or on `job_errors`. */
export function jobConditions(f: JobFilter, table: Columns = jobs): SQL[] {
  const where: SQL[] = [];
  if (f.status) where.push(eq(table.status, f.status));
  if (f.kind) where.push(eq(table.kind, f.kind));
  if (f.priority) where.push(eq(table.priority, f.priority));
  if (f.note_id) where.push(eq(table.noteId, f.note_id));
  if (f.q)
    where.push(table === jobs ? errorMatch(f.q) : fulltextMatch([jobErrors.lastError, jobErrors.deadReason], f.q));
  return where;
}

export const jobScope = (f: JobFilter) => ({
  status: !!f.status,
  kind: !!f.kind,
  priority: !!f.priority,
  note: !!f.note_id,
  search: !!f.q,
});

type ErrorRow = typeof jobErrors.$inferSelect;

const field = (sort: string) => sort.replace(/^-/, '') as JobSortField;

/**
 * One page of a job search (`page.offset` skipped, one row more than the page at most), in the
 * list's order: the page's `job_errors` rows through search-walk.ts, then the list's own rows
 * of those jobs (`byIds`, any order), put in that order. A job deleted between the two reads
 * (retention) is left out.
 */
export async function searchJobs<Row>(
  db: DbOrTx,
  f: JobFilter & { q: string },
  page: PageRequest,
  byIds: (ids: string[]) => Promise<Row[]>,
  idOf: (row: Row) => string,
): Promise<Row[]> {
  const scope = jobScope({ ...f, q: undefined });
  const order = jobOrder(field(page.sort), scope, (r: ErrorRow) => r, jobErrors);
  const plan = planPage(order, page);
  const found = await searchPage({
    db,
    table: jobErrors,
    columns: [jobErrors.lastError, jobErrors.deadReason],
    order,
    descending: page.sort.startsWith('-'),
    plan,
    filters: jobConditions({ ...f, q: undefined }, jobErrors),
    q: f.q,
    walkable: seeksOn(order.index, scope),
    read: (where, limit, offset, index) =>
      db
        .select()
        .from(jobErrors, index ? { forceIndex: index } : undefined)
        .where(where)
        .orderBy(...plan.orderBy)
        .limit(limit)
        .offset(offset),
    text: (r) => `${r.lastError ?? ''} ${r.deadReason ?? ''}`,
  });
  if (!found.length) return [];
  const rows = new Map((await byIds(found.map((r) => r.id))).map((row) => [idOf(row), row]));
  return found.flatMap((r) => rows.get(r.id) ?? []);
}
