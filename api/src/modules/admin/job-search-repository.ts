import { eq, type SQL } from 'drizzle-orm';
import type { DbOrTx } from '../../platform/db/client.ts';
import { searchWords } from '../../platform/db/fulltext.ts';
import type { ListOrder, PagePlan, SortKey } from '../../platform/db/keyset.ts';
import { JOB_STATUSES, type JobStatus, jobs } from '../../platform/db/schema.ts';
import { type SearchPage, searchPage, walkSearch } from '../../platform/db/search-walk.ts';
import { type JobScope, jobOrder, seeksOn } from '../notes/index.ts';

/**
 * The console's job search (docs/data.md, "Search"). Only jobs that failed, died, were skipped,
 * discarded or are being retried carry error text: completing a job clears it, so processed
 * jobs, nearly all of them, never match. A search of every status therefore walks each of
 * those statuses' own index (status, then the order) and merges the pages, instead of walking
 * all jobs, where a page of errors is thousands of entries away.
 */
const ERROR_STATUSES: readonly JobStatus[] = JOB_STATUSES.filter((s) => s !== 'processed');

type JobRow = typeof jobs.$inferSelect;

export interface JobSearch<Row> {
  db: DbOrTx;
  q: string;
  sort: string;
  /** The list's filters other than the search, and the scope they make (list-orders.ts). */
  filters: SQL[];
  scope: JobScope;
  order: ListOrder<Row>;
  plan: PagePlan;
  read: SearchPage<Row>['read'];
  job(row: Row): JobRow;
}

export async function searchJobs<Row>(s: JobSearch<Row>): Promise<Row[]> {
  const descending = s.sort.startsWith('-');
  const field = s.sort.replace(/^-/, '');
  const common = {
    db: s.db,
    table: jobs,
    columns: [jobs.lastError, jobs.deadReason],
    descending,
    read: s.read,
    text: (r: Row) => `${s.job(r).lastError ?? ''} ${s.job(r).deadReason ?? ''}`,
  };
  const words = searchWords(s.q);
  if (words.length && !s.scope.status && (field === 'created_at' || field === 'updated_at')) {
    const byStatus = { ...s.scope, status: true };
    const order = jobOrder(field, byStatus, (r: Row) => s.job(r));
    if (seeksOn(order.index, byStatus)) {
      // Each status's first offset + fetch matches; the page is the first of their union.
      const wanted = { ...s.plan, offset: 0, fetch: s.plan.offset + s.plan.fetch };
      const parts = await Promise.all(
        ERROR_STATUSES.map((status) =>
          walkSearch({ ...common, order, plan: wanted, filters: [...s.filters, eq(jobs.status, status)], words }),
        ),
      );
      if (parts.every((p) => p !== null)) {
        const merged = parts.flat().sort(compareBy(order.keys, descending));
        return merged.slice(s.plan.offset, s.plan.offset + s.plan.fetch);
      }
    }
  }
  return searchPage({
    ...common,
    order: s.order,
    plan: s.plan,
    filters: s.filters,
    q: s.q,
    walkable: seeksOn(s.order.index, s.scope),
  });
}

/** The list's order over rows in memory: dates by time, ids and the rest as strings. */
function compareBy<Row>(keys: readonly SortKey<Row>[], descending: boolean) {
  const value = (v: unknown) => (v instanceof Date ? v.getTime() : v);
  return (a: Row, b: Row) => {
    for (const key of keys) {
      const x = value(key.get(a)) as string | number;
      const y = value(key.get(b)) as string | number;
      if (x !== y) return (x < y ? -1 : 1) * (descending ? -1 : 1);
    }
    return 0;
  };
}
