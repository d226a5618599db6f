import { and, not, type SQL, sql } from 'drizzle-orm';
import type { MySqlColumn, MySqlTable } from 'drizzle-orm/mysql-core';
import type { DbOrTx } from './client.ts';
import { fulltextMatch, searchWords } from './fulltext.ts';
import { after, type ListOrder, type PagePlan, type SortKey } from './keyset.ts';

/**
 * Search that reads what one page needs (docs/data.md, "Search"). InnoDB's FULLTEXT query
 * gathers every row holding a word before anything is ordered or limited, so its cost follows
 * how common the word is in the whole table: seconds for a word in one note of 50 at millions
 * of notes. Common words are what a walk in the list's order finds quickly, though. So a search
 * first walks the list's own index in the list's order, through a window of at most
 * SEARCH_WINDOW entries, keeping the rows whose text holds every word; when the window yields
 * the page, that page is the answer (the one the FULLTEXT query gives). Otherwise the words are
 * rare here, and the FULLTEXT query, whose cost then is small, answers instead.
 */

/** Index entries one search walks before it leaves the page to the FULLTEXT index. */
export const SEARCH_WINDOW = 2_500;
/** Reads of candidates one walk makes at most (more only when substrings matched inside words). */
const MAX_READS = 4;

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

/** Every word somewhere in the columns (LIKE follows the collation: case and accents aside). */
function containsAll(columns: readonly MySqlColumn[], words: readonly string[]): SQL {
  const text = sql`CONCAT_WS(' ', ${sql.join([...columns], sql`, `)})`;
  return and(...words.map((w) => sql`${text} LIKE ${`%${escapeLike(w)}%`}`)) as SQL;
}

export interface SearchPage<Row> {
  db: DbOrTx;
  table: MySqlTable;
  /** The searched text: the columns of the table's FULLTEXT index, in its order. */
  columns: readonly MySqlColumn[];
  /** The list's order without search: its index holds the rows in order and seeks on `filters`. */
  order: ListOrder<Row>;
  descending: boolean;
  plan: PagePlan;
  /** The list's filters other than the search (owner, status, priority). */
  filters: SQL[];
  words: readonly string[];
  /** The list's own query along `index` (none: the optimizer's choice), ordered by `plan.orderBy`. */
  read(where: SQL | undefined, limit: number, offset: number, index: string | undefined): Promise<Row[]>;
  /** The searched text of a row, for the word check. */
  text(row: Row): string;
}

/**
 * The rows of one search page (`plan.offset` skipped, `plan.fetch` rows at most), or null when
 * the window did not decide it (then the FULLTEXT index answers: `searchPage`).
 */
export async function walkSearch<Row>(p: SearchPage<Row>): Promise<Row[] | null> {
  if (!p.order.index) return null;
  const keys = p.order.keys as readonly SortKey<Row>[];
  const scope = and(...p.filters, p.plan.after);
  // The window's last entry: an index-only read of at most SEARCH_WINDOW entries.
  const [edge] = await p.db
    .select(Object.fromEntries(keys.map((k, i) => [`k${i}`, k.column])))
    .from(p.table, { forceIndex: p.order.index })
    .where(scope)
    .orderBy(...p.plan.orderBy)
    .limit(1)
    .offset(SEARCH_WINDOW - 1);
  const edgeValues = edge ? keys.map((_, i) => (edge as Record<string, unknown>)[`k${i}`]) : null;
  const inWindow = edgeValues ? not(after(keys, edgeValues, p.descending)) : undefined;
  const wanted = p.plan.offset + p.plan.fetch;
  const contains = containsAll(p.columns, p.words);
  // Each candidate is a row read from the table (the text is not in the index), so read only as
  // many as the page still needs; a candidate a substring matched inside a word fails the word
  // check, and the next read starts after the last candidate.
  const found: Row[] = [];
  let from = p.plan.after;
  for (let reads = 0; reads < MAX_READS; reads++) {
    const need = wanted - found.length;
    const candidates = await p.read(and(...p.filters, from, inWindow, contains), need, 0, p.order.index);
    for (const row of candidates) if (startsWords(p.words, p.text(row))) found.push(row);
    // Enough for the page; or all there is, when the window held the rest of the list.
    if (found.length >= wanted) return found.slice(p.plan.offset, wanted);
    if (candidates.length < need) return edgeValues ? null : found.slice(p.plan.offset, wanted);
    const last = candidates[candidates.length - 1] as Row;
    from = after(
      keys,
      keys.map((k) => k.get(last)),
      p.descending,
    );
  }
  return null;
}

/**
 * One page of a search: the walk when the order's index seeks on every filter (`walkable`),
 * else, or when the walk did not decide, the FULLTEXT index. A `q` without a word the index
 * could hold (db/fulltext.ts) finds nothing.
 */
export async function searchPage<Row>(p: Omit<SearchPage<Row>, 'words'> & { q: string; walkable: boolean }) {
  const words = searchWords(p.q);
  if (!words.length) return [];
  const walked = p.walkable ? await walkSearch({ ...p, words }) : null;
  const where = and(...p.filters, p.plan.after, fulltextMatch(p.columns, p.q));
  return walked ?? (await p.read(where, p.plan.fetch, p.plan.offset, undefined));
}
