import { createHash } from 'node:crypto';
import type { NoteResult } from '@notes/contracts';

/** The result of `note.process`: contract section 11, field for field (defined in @notes/contracts). */
export type NoteAnalysis = NoteResult;

/** Words: maximal runs of non-whitespace, whitespace being JavaScript's `\s` (NBSP and tabs included). */
const WORD = /\S+/g;
/**
 * A tag: `#` then one or more letters, marks, decimal digits or `_`, where the `#` starts the text
 * or follows a character outside that set (so `a#b` is not a tag, `##b` and `(#b` are). The `u`
 * flag makes the look-behind see a whole code point, not half a surrogate pair.
 */
const TAG = /(?<![\p{L}\p{M}\p{Nd}_])#([\p{L}\p{M}\p{Nd}_]+)/gu;
/** A link: the scheme in any case, then non-whitespace; trailing punctuation is trimmed after. */
const LINK = /https?:\/\/\S+/giu;
const TRAILING = /[.,;:!?)\]}'"]+$/u;

/** Analyses a note's body. Pure: the same body always gives the same result. */
export function analyse(body: string): NoteAnalysis {
  const words = body.match(WORD)?.length ?? 0;
  return {
    word_count: words,
    char_count: codePoints(body),
    // 200 words a minute, in integers: ceil(words × 3 / 10).
    reading_time_seconds: Math.floor((words * 3 + 9) / 10),
    tags: distinct(Array.from(body.matchAll(TAG), (m) => (m[1] as string).toLowerCase())),
    links: distinct(Array.from(body.matchAll(LINK), (m) => m[0].replace(TRAILING, ''))),
    checksum: createHash('sha256').update(body, 'utf8').digest('hex'),
  };
}

function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** Distinct values in order of first appearance. */
function distinct(values: string[]): string[] {
  return [...new Set(values)];
}
