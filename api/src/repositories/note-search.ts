import { and, not, type SQL, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.ts';
import { fulltextMatch } from '../db/fulltext.ts';
import { after, type ListOrder, type PagePlan, type SortKey } from '../db/keyset.ts';
import { notes } from '../db/schema.ts';

/**
 * Note search that reads what one page needs (docs/data.md, "Search"). InnoDB's FULLTEXT query
 * gathers every note holding a word before anything is ordered or limited, so its cost follows
 * how common the word is in the whole table: seconds for a word in one note of 50 at millions
 * of notes. Common words are what a newest-first walk finds quickly, though. So a search first
 * walks the list's own index in the list's order, through a window of at most SEARCH_WINDOW
 * entries, keeping the notes whose title or body holds every word; when the window yields the
 * page, that page is the answer (exactly the one the FULLTEXT query would give). Otherwise the
 * words are rare here, and the FULLTEXT query, whose cost then is small, answers instead.
 */

/** Index entries one search walks before it leaves the page to the FULLTEXT index. */
export const SEARCH_WINDOW = 2_500;
/** Candidates read beyond the page, for those a substring matched inside a word. */
const SLACK = 10;

/** Lower case without accents: how the tables' collation compares letters (utf8mb4_unicode_ci). */
const fold = (s: string) => s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
/** A word as the FULLTEXT parser sees it: letters, marks, digits and `_` (db/fulltext.ts). */
const WORD = /[\p{L}\p{M}\p{N}_]+/gu;

/** Does every search word start a word of `text` (case and accents aside)? */
export function startsWords(words: readonly string[], text: string): boolean {
  const tokens = [...text.matchAll(WORD)].map(([t]) => fold(t));
  return words.map(fold).every((w) => tokens.some((t) => t.startsWith(w)));
}

/** LIKE's wildcards in a word are literal characters. */
const escapeLike = (word: string) => word.replace(/[\\%_]/g, (c) => `\\${c}`);

/** Every word somewhere in title or body (LIKE follows the collation: case and accents aside). */
function containsAll(words: readonly string[]): SQL {
  return and(...words.map((w) => sql`CONCAT(${notes.title}, ' ', ${notes.body}) LIKE ${`%${escapeLike(w)}%`}`)) as SQL;
}

export interface SearchPage<Row> {
  db: DbOrTx;
  /** The list's order without search: its index holds the rows in order and seeks on `filters`. */
  order: ListOrder<Row>;
  descending: boolean;
  plan: PagePlan;
  /** The list's filters other than the search (owner, status, priority). */
  filters: SQL[];
  words: readonly string[];
  /** The list's own query along `order.index`, ordered by `plan.orderBy`, limited to `limit`. */
  read(where: SQL, limit: number): Promise<Row[]>;
  /** Title and body of a row, for the word check. */
  text(row: Row): string;
}

/**
 * The rows of one search page (`plan.offset` skipped, `plan.fetch` rows at most), or null when
 * the window did not decide it: then the caller runs the FULLTEXT query (`fulltextCondition`).
 */
export async function walkSearch<Row>(p: SearchPage<Row>): Promise<Row[] | null> {
  if (!p.order.index) return null;
  const keys = p.order.keys as readonly SortKey<unknown>[];
  const scope = and(...p.filters, p.plan.after);
  // The window's last entry: an index-only read of at most SEARCH_WINDOW entries.
  const [edge] = await p.db
    .select(Object.fromEntries(keys.map((k, i) => [`k${i}`, k.column])))
    .from(notes, { forceIndex: p.order.index })
    .where(scope)
    .orderBy(...p.plan.orderBy)
    .limit(1)
    .offset(SEARCH_WINDOW - 1);
  const edgeValues = edge ? keys.map((_, i) => (edge as Record<string, unknown>)[`k${i}`]) : null;
  const inWindow = edgeValues ? not(after(keys, edgeValues, p.descending)) : undefined;
  const wanted = p.plan.offset + p.plan.fetch;
  const limit = wanted + SLACK;
  const candidates = await p.read(and(scope, inWindow, containsAll(p.words)) as SQL, limit);
  const found = candidates.filter((row) => startsWords(p.words, p.text(row)));
  // Every match up to the last candidate is in `found`, in order: enough for the page, or all
  // there is when the window held the rest of the list and nothing was left unread.
  const complete = found.length >= wanted || (!edgeValues && candidates.length < limit);
  return complete ? found.slice(p.plan.offset, wanted) : null;
}

/** The FULLTEXT condition of the fallback (db/fulltext.ts). */
export const fulltextCondition = (q: string) => fulltextMatch([notes.title, notes.body], q);
