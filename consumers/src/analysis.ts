import { createHash } from 'node:crypto';
import type { NoteResult } from '@notes/contracts';

/** The result of `note.process`: the definitions in docs/analysis.md, field for field. */
export type NoteAnalysis = NoteResult;

/**
 * Analyses a note's body in one pass per field, each linear in the body's length whatever it
 * holds (docs/isolation.md): no regular expression ever runs a quantifier over user text, since
 * JavaScript's engine backtracks and a crafted body (a link followed by 60 KiB of dots) made
 * `/[.,;:!?)\]}'"]+$/` cost seconds. Pure: the same body always gives the same result.
 */
export function analyse(body: string): NoteAnalysis {
  const words = countWords(body);
  return {
    word_count: words,
    char_count: codePoints(body),
    // 200 words a minute, in integers: ceil(words × 3 / 10).
    reading_time_seconds: Math.floor((words * 3 + 9) / 10),
    tags: findTags(body),
    links: findLinks(body),
    checksum: createHash('sha256').update(body, 'utf8').digest('hex'),
  };
}

/**
 * JavaScript's `\s`: WhiteSpace (tab, VT, FF, space, NBSP, BOM and every `Zs` character) and
 * LineTerminator (LF, CR, U+2028, U+2029). None is astral, so UTF-16 code units suffice.
 */
export function isWhitespace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/** Maximal runs of non-whitespace. */
function countWords(body: string): number {
  let words = 0;
  let inWord = false;
  for (let i = 0; i < body.length; i++) {
    if (isWhitespace(body.charCodeAt(i))) inWord = false;
    else if (!inWord) {
      inWord = true;
      words++;
    }
  }
  return words;
}

/** Unicode code points: a surrogate pair is one, a lone surrogate is one too (as `for…of` counts). */
function codePoints(body: string): number {
  let n = body.length;
  for (let i = 1; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff) {
      const p = body.charCodeAt(i - 1);
      if (p >= 0xd800 && p <= 0xdbff) {
        n--;
        i++; // this low surrogate cannot start another pair
      }
    }
  }
  return n;
}

/** One character of a tag at a position (sticky, no quantifier: a single test, never a scan). */
const TAG_CHAR = /[\p{L}\p{M}\p{Nd}_]/uy;

/** Length in code units of the tag character starting at `i`, or 0 when there is none. */
function tagCharAt(body: string, i: number): number {
  const c = body.charCodeAt(i);
  if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f) return 1;
  if (c < 0x80 || Number.isNaN(c)) return 0;
  TAG_CHAR.lastIndex = i;
  if (!TAG_CHAR.test(body)) return 0;
  return TAG_CHAR.lastIndex - i;
}

/** True when the code point that ends just before `i` is a tag character. */
function tagCharEndsAt(body: string, i: number): boolean {
  if (i === 0) return false;
  const low = body.charCodeAt(i - 1);
  if (i >= 2 && low >= 0xdc00 && low <= 0xdfff) {
    const high = body.charCodeAt(i - 2);
    if (high >= 0xd800 && high <= 0xdbff) return tagCharAt(body, i - 2) === 2;
  }
  return tagCharAt(body, i - 1) > 0;
}

/**
 * `#` then one or more tag characters, where the `#` starts the body or follows a code point
 * that is not one; lower-cased, distinct, in order. Each character is looked at a bounded number
 * of times: once by the scan, once more when it precedes a `#`.
 */
function findTags(body: string): string[] {
  const tags = new Set<string>();
  let i = body.indexOf('#');
  while (i !== -1) {
    let end = i + 1;
    if (!tagCharEndsAt(body, i)) {
      for (let n = tagCharAt(body, end); n > 0; n = tagCharAt(body, end)) end += n;
      if (end > i + 1) tags.add(body.slice(i + 1, end).toLowerCase());
    }
    i = body.indexOf('#', end);
  }
  return [...tags];
}

/** Punctuation trimmed from the end of a link: `.,;:!?)]}'"`. */
function isTrailing(c: number): boolean {
  switch (c) {
    case 0x2e:
    case 0x2c:
    case 0x3b:
    case 0x3a:
    case 0x21:
    case 0x3f:
    case 0x29:
    case 0x5d:
    case 0x7d:
    case 0x27:
    case 0x22:
      return true;
    default:
      return false;
  }
}

/** The code unit at `k` lower-cased if it is an ASCII letter (`| 0x20` makes no other unit a letter). */
function lowerAt(body: string, k: number): number {
  return k >= 0 ? body.charCodeAt(k) | 0x20 : -1;
}

/** Where `http` or `https` (ASCII letters in any case) ends right before `://` at `p`, or -1. */
function schemeStart(body: string, p: number): number {
  const s = lowerAt(body, p - 1) === 0x73 ? 1 : 0;
  for (let tries = s; tries >= 0; tries--) {
    const at = p - 4 - tries;
    if (
      lowerAt(body, at) === 0x68 &&
      lowerAt(body, at + 1) === 0x74 &&
      lowerAt(body, at + 2) === 0x74 &&
      lowerAt(body, at + 3) === 0x70
    )
      return at;
  }
  return -1;
}

/**
 * `http://` or `https://` followed by at least one non-whitespace character, up to the next
 * whitespace, then trailing punctuation removed by scanning back from the end; distinct, in
 * order. The search resumes after each link (or one past a `://` that starts none), so every
 * character is looked at a bounded number of times.
 */
function findLinks(body: string): string[] {
  const links = new Set<string>();
  let from = 0;
  for (let p = body.indexOf('://'); p !== -1; p = body.indexOf('://', from)) {
    const start = schemeStart(body, p);
    let end = p + 3;
    if (start === -1 || end >= body.length || isWhitespace(body.charCodeAt(end))) {
      from = p + 1;
      continue;
    }
    while (end < body.length && !isWhitespace(body.charCodeAt(end))) end++;
    let kept = end;
    while (kept > start && isTrailing(body.charCodeAt(kept - 1))) kept--;
    links.add(body.slice(start, kept));
    from = end;
  }
  return [...links];
}
