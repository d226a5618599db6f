import assert from 'node:assert/strict';
import { test } from 'node:test';
import { booleanQuery, MAX_WORDS, searchWords } from './fulltext.ts';

test('every word is required, as a prefix, lower-cased and without repeats', () => {
  assert.equal(booleanQuery('Apple PIE apple'), '+apple* +pie*');
  assert.deepEqual(searchWords('Crème brûlée'), ['crème', 'brûlée']);
});

test('operators, quotes and punctuation typed by a user are separators, never syntax', () => {
  for (const q of ['+apple -pie', '"apple pie"', 'apple*', '(apple) ~pie', 'apple@3 <pie>', "o'apple; pie!"]) {
    const query = booleanQuery(q) ?? '';
    assert.match(query, /^(\+[\p{L}\p{M}\p{N}_]+\* ?)+$/u, q);
    assert.ok(query.includes('+apple*'), q);
  }
  assert.equal(booleanQuery('snake_case'), '+snake_case*');
});

test('words shorter than the index keeps are dropped; nothing left means no query', () => {
  assert.equal(booleanQuery('an apple a day'), '+apple* +day*');
  for (const q of ['a', 'is', '%', '!', '\\', '0% d', '  ', '🙂🙂🙂']) assert.equal(booleanQuery(q), null, q);
  assert.equal(booleanQuery('x'.repeat(85)), null);
  assert.equal(booleanQuery('one two six ten '.repeat(10))?.split(' ').length, 4, 'repeats count once');
  const many = Array.from({ length: 20 }, (_, i) => `word${i}`).join(' ');
  assert.equal(booleanQuery(many)?.split(' ').length, MAX_WORDS);
});
