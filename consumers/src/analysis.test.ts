import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { analyse } from './analysis.ts';

const sha256 = (s: string) => createHash('sha256').update(Buffer.from(s, 'utf8')).digest('hex');

describe('analyse: the exact result docs/api.md defines', () => {
  test('a plain note', () => {
    const body = 'Hello #World, see https://Example.com/a?b=1&c=2. #world again';
    assert.deepEqual(analyse(body), {
      word_count: 6,
      char_count: 61,
      reading_time_seconds: 2,
      tags: ['world'],
      links: ['https://Example.com/a?b=1&c=2'],
      checksum: sha256(body),
    });
  });

  test('an empty body', () => {
    assert.deepEqual(analyse(''), {
      word_count: 0,
      char_count: 0,
      reading_time_seconds: 0,
      tags: [],
      links: [],
      checksum: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    });
  });

  test('whitespace is JavaScript \\s: tabs, newlines, NBSP, ideographic space, BOM', () => {
    const body = '  one\ttwo\nthree\u00a0four\u3000five\ufeffsix\r\n\u2003seven  ';
    assert.equal(analyse(body).word_count, 7);
    assert.equal(analyse(' \t\n\u00a0').word_count, 0);
  });

  test('CJK text without spaces is one word; char_count counts code points', () => {
    const r = analyse('日本語のテキスト 中文');
    assert.equal(r.word_count, 2);
    assert.equal(r.char_count, 11);
  });

  test('emoji, astral characters and combining marks count as code points', () => {
    assert.equal(analyse('😀').char_count, 1);
    assert.equal(analyse('👍🏽').char_count, 2, 'emoji + skin-tone modifier');
    assert.equal(analyse('👨‍👩‍👧').char_count, 5, 'three people joined by two ZWJ');
    assert.equal(analyse('e\u0301').char_count, 2, 'e + combining acute');
    assert.equal(analyse('𝐀𝐁').char_count, 2);
    assert.equal(analyse('😀 😀').word_count, 2);
  });

  test('reading time is ceil(words × 3 / 10) in integers', () => {
    const words = (n: number) => Array(n).fill('w').join(' ');
    for (const [n, seconds] of [
      [0, 0],
      [1, 1],
      [3, 1],
      [4, 2],
      [10, 3],
      [11, 4],
      [200, 60],
      [201, 61],
      [1000, 300],
    ] as const) {
      assert.equal(analyse(words(n)).reading_time_seconds, seconds, `${n} words`);
    }
  });

  test('checksum is the hex SHA-256 of the UTF-8 bytes', () => {
    assert.equal(analyse('abc').checksum, 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.equal(analyse('é😀').checksum, sha256('é😀'));
  });
});

describe('tags', () => {
  const tags = (body: string) => analyse(body).tags;

  test('lower-cased, distinct, in order of first appearance, without the #', () => {
    assert.deepEqual(tags('#Beta #alpha #BETA #Alpha #gamma'), ['beta', 'alpha', 'gamma']);
  });

  test('letters, marks, decimal digits and _ in any script', () => {
    assert.deepEqual(tags('#über #日本 #café #e\u0301t\u00e9 #x2 #٣٤ #snake_case'), [
      'über',
      '日本',
      'café',
      'e\u0301té',
      'x2',
      '٣٤',
      'snake_case',
    ]);
  });

  test('a tag ends at the first character outside the set', () => {
    assert.deepEqual(tags('#one-two #three.four #five! #six😀 #seven,'), ['one', 'three', 'five', 'six', 'seven']);
  });

  test('#_x is a tag; a lone # or # before punctuation is not', () => {
    assert.deepEqual(tags('#_x'), ['_x']);
    assert.deepEqual(tags('# #! #. #'), []);
  });

  test('a # after a letter, digit, mark or _ is not a tag', () => {
    assert.deepEqual(tags('a#b 1#c _#d é#e e\u0301#f 日#g'), []);
    assert.deepEqual(tags('#a#b'), ['a'], 'the second # follows a letter');
  });

  test('a # after other characters starts a tag', () => {
    assert.deepEqual(tags('(#a) ##b -#c /#d 😀#e "#f\t#g\u00a0#h'), ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
    assert.deepEqual(tags('see https://x.test/#frag'), ['frag'], 'literally: the # follows /');
  });

  test('an astral letter before the # blocks it (code points, not UTF-16 halves)', () => {
    assert.deepEqual(tags('𝐀#tag'), []);
  });

  test('mixed-case duplicates collapse to the first lower-cased form', () => {
    assert.deepEqual(tags('#ToDo #TODO #todo #Done'), ['todo', 'done']);
  });
});

describe('links', () => {
  const links = (body: string) => analyse(body).links;

  test('http and https in any case, kept as written', () => {
    assert.deepEqual(links('a http://a.test b HTTPS://B.test/X c HtTp://c.test'), [
      'http://a.test',
      'HTTPS://B.test/X',
      'HtTp://c.test',
    ]);
  });

  test('trailing .,;:!?)]}\'" are stripped, repeatedly', () => {
    assert.deepEqual(links('(see https://a.test/x).'), ['https://a.test/x']);
    assert.deepEqual(links('"https://b.test/y?q=1";'), ['https://b.test/y?q=1']);
    assert.deepEqual(links("https://c.test/z'])}!?:;,."), ['https://c.test/z']);
    assert.deepEqual(links('https://d.test/a.b,c'), ['https://d.test/a.b,c'], 'only trailing ones');
  });

  test('query strings and fragments are kept', () => {
    assert.deepEqual(links('https://e.test/p?a=1&b=two#frag'), ['https://e.test/p?a=1&b=two#frag']);
  });

  test('distinct after stripping, in order', () => {
    assert.deepEqual(links('https://a.test, https://b.test https://a.test. https://A.test'), [
      'https://a.test',
      'https://b.test',
      'https://A.test',
    ]);
  });

  test('a link ends at whitespace, NBSP included; other schemes are not links', () => {
    assert.deepEqual(links('https://a.test\u00a0next ftp://b.test mailto:x@y.test'), ['https://a.test']);
    assert.deepEqual(links('http:/broken https:// http//x'), []);
  });

  test('non-ASCII in a link is kept', () => {
    assert.deepEqual(links('https://例え.テスト/パス!'), ['https://例え.テスト/パス']);
  });
});

describe('properties', () => {
  test('never throws; counts agree with their definitions', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme-composite', maxLength: 200 }), (body) => {
        const r = analyse(body);
        assert.equal(r.char_count, Array.from(body).length);
        assert.equal(r.word_count, body.split(/\s+/).filter((w) => w.length > 0).length);
        assert.equal(r.reading_time_seconds, Math.ceil((r.word_count * 3) / 10));
        assert.equal(new Set(r.tags).size, r.tags.length);
        assert.equal(new Set(r.links).size, r.links.length);
        for (const tag of r.tags) assert.equal(tag, tag.toLowerCase());
      }),
    );
  });
});
