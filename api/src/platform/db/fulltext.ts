import { type SQL, sql } from 'drizzle-orm';
import type { MySqlColumn } from 'drizzle-orm/mysql-core';

/**
 * Search through InnoDB FULLTEXT indexes (docs/data.md, "Search"). What a user types becomes a
 * boolean-mode query in which every word must occur, each as a prefix (`+word*`): operators,
 * quotes and punctuation are separators, never syntax, so no input can break the query.
 */

/** innodb_ft_min_token_size (default 3): shorter words are not in the index, so never match. */
export const MIN_WORD_LENGTH = 3;
/** innodb_ft_max_token_size (default 84): longer words are not in the index either. */
export const MAX_WORD_LENGTH = 84;
/** More words narrow the result no further in practice and cost one index lookup each. */
export const MAX_WORDS = 12;

/** What InnoDB's parser counts as a word: letters, digits, marks and `_`. */
const WORD = /[\p{L}\p{M}\p{N}_]+/gu;

/** The words of `q` that the index can find, in order, without repeats. */
export function searchWords(q: string): string[] {
  const words = new Set<string>();
  for (const [word] of q.matchAll(WORD)) {
    const length = [...word].length;
    if (length >= MIN_WORD_LENGTH && length <= MAX_WORD_LENGTH) words.add(word.toLowerCase());
  }
  return [...words].slice(0, MAX_WORDS);
}

/** `+one* +two*`, or null when `q` has no word the index could find (then nothing matches). */
export function booleanQuery(q: string): string | null {
  const words = searchWords(q);
  return words.length ? words.map((w) => `+${w}*`).join(' ') : null;
}

/** A condition for the FULLTEXT index over exactly `columns`; FALSE when `q` has no word. */
export function fulltextMatch(columns: readonly MySqlColumn[], q: string): SQL {
  const query = booleanQuery(q);
  if (!query) return sql`FALSE`;
  const list = sql.join([...columns], sql`, `);
  return sql`MATCH (${list}) AGAINST (${query} IN BOOLEAN MODE)`;
}
