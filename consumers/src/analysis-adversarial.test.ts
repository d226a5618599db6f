import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { analyse, isWhitespace } from './analysis.ts';

/**
 * analyse() against a reference written straight from the definitions in docs/analysis.md, over
 * corpora built to hurt a backtracking implementation: long runs of trailing punctuation, `#`,
 * combining marks, astral characters and every kind of whitespace, glued to links and tags.
 */
const TRAILING = '.,;:!?)]}\'"';

function reference(body: string) {
  const words = body.split(/\s+/).filter((w) => w.length > 0).length;
  const tags = Array.from(body.matchAll(/(?<![\p{L}\p{M}\p{Nd}_])#([\p{L}\p{M}\p{Nd}_]+)/gu), (m) =>
    (m[1] as string).toLowerCase(),
  );
  const links = Array.from(body.matchAll(/[hH][tT][tT][pP][sS]?:\/\/\S+/g), (m) => {
    let end = m[0].length;
    while (end > 0 && TRAILING.includes(m[0][end - 1] as string)) end--;
    return m[0].slice(0, end);
  });
  return {
    word_count: words,
    char_count: Array.from(body).length,
    reading_time_seconds: Math.ceil((words * 3) / 10),
    tags: [...new Set(tags)],
    links: [...new Set(links)],
    checksum: createHash('sha256').update(Buffer.from(body, 'utf8')).digest('hex'),
  };
}

/** Every `\s` character, and near misses that are not whitespace. */
const SPACES = ['\t', '\n', '\v', '\f', '\r', ' ', '\u00a0', '\u1680', '\u2000', '\u200a', '\u2028', '\u2029'];
const MORE_SPACES = ['\u202f', '\u205f', '\u3000', '\ufeff'];
const NOT_SPACES = ['\u200b', '\u180e', '\u0085', '\u2060'];
const FRAGMENTS = [
  ...SPACES,
  ...MORE_SPACES,
  ...NOT_SPACES,
  ...TRAILING,
  'http://',
  'https://',
  'HTTPS://',
  'hTtP://',
  'http:/',
  'http//',
  'https:',
  'x.test',
  '/p?q=1&r=2',
  '#',
  '##',
  '#tag',
  '#Ünï',
  '_',
  '-',
  '/',
  'a',
  'Z',
  '9',
  '\u0663', // Arabic-Indic digit three (Nd)
  '\u00bd', // ½: a number, but not Nd
  'e\u0301',
  '\u0301', // a combining mark on its own
  '\u20dd', // enclosing circle (Me)
  '𝐀', // mathematical bold A: an astral letter
  '😀',
  '👨‍👩‍👧',
  '\ud83d', // a lone high surrogate
  '\ude00', // a lone low surrogate
  'ſ', // long s: folds to `s` under /iu, but is not ASCII
  'K', // Kelvin sign
  'Σ',
  'İ',
];

const fragment = fc.constantFrom(...FRAGMENTS);
/** A fragment repeated: the long runs a crafted body is made of. */
const run = fc.tuple(fragment, fc.integer({ min: 1, max: 400 })).map(([f, n]) => f.repeat(n));
const adversarial = fc
  .array(fc.oneof({ arbitrary: fragment, weight: 4 }, { arbitrary: run, weight: 1 }), {
    maxLength: 40,
  })
  .map((parts) => parts.join(''));

describe('analyse on adversarial corpora', () => {
  test('equals the reference on bodies built from links, tags, marks, astral characters and runs', () => {
    fc.assert(
      fc.property(adversarial, (body) => {
        assert.deepEqual(analyse(body), reference(body));
      }),
      { numRuns: 1500 },
    );
  });

  test('equals the reference on arbitrary Unicode text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (body) => {
        assert.deepEqual(analyse(body), reference(body));
      }),
      { numRuns: 1000 },
    );
  });

  test('the results are well formed: links start with a scheme, hold no whitespace, end without trailing punctuation', () => {
    fc.assert(
      fc.property(adversarial, (body) => {
        const r = analyse(body);
        for (const link of r.links) {
          assert.match(link, /^https?:\/\//i);
          assert.ok(body.includes(link), 'a link is a piece of the body');
          assert.ok(!TRAILING.includes(link.at(-1) as string) || link.endsWith('//'), link);
          for (let i = 0; i < link.length; i++) assert.ok(!isWhitespace(link.charCodeAt(i)));
        }
        for (const tag of r.tags) assert.ok(tag.length > 0 && !tag.includes('#'));
        assert.ok(r.word_count <= r.char_count);
      }),
      { numRuns: 500 },
    );
  });

  test('isWhitespace is exactly \\s on every UTF-16 code unit', () => {
    for (let c = 0; c <= 0xffff; c++) {
      assert.equal(isWhitespace(c), /\s/.test(String.fromCharCode(c)), `U+${c.toString(16)}`);
    }
  });

  test('the crafted bodies of the noisy-neighbour report, at the 64 KiB limit', () => {
    const dots = '.'.repeat(65_000);
    const cases = [
      `see http://x${dots}a`,
      `see http://x${dots}`,
      `http://x${')'.repeat(32_000)}`,
      '#'.repeat(65_000),
      `#${'a\u0301'.repeat(20_000)}`,
      `${'𝐀'.repeat(16_000)}#x`,
      `${'http://'.repeat(9_000)}`,
      `${' \u3000\t'.repeat(20_000)}http://y`,
    ];
    for (const body of cases) assert.deepEqual(analyse(body), reference(body));
    assert.deepEqual(analyse(`see http://x${dots}`).links, ['http://x']);
    assert.deepEqual(analyse(`see http://x${dots}a`).links, [`http://x${dots}a`]);
  });
});
