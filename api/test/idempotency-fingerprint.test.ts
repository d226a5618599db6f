import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalJson, fingerprintOf, keyHashOf, type WriteRequest } from '../src/modules/idempotency/idempotency.ts';
import { ifMatchSatisfied } from '../src/modules/notes/notes-service.ts';

/** The pure parts of idempotency and conditional writes (no services needed). */

const base: WriteRequest = { userId: 'u1', method: 'POST', path: '/api/notes', body: { title: 't', body: 'b' } };

test('canonical JSON sorts keys at every depth and keeps array order', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [2, 1], c: null } }), '{"a":{"c":null,"d":[2,1]},"b":1}');
  assert.equal(canonicalJson({ a: undefined, b: 'x' }), '{"b":"x"}');
  assert.equal(canonicalJson(undefined), 'null');
  assert.equal(canonicalJson('é"'), JSON.stringify('é"'));
});

test('the fingerprint ignores key order and covers method, path, user, body and If-Match', () => {
  const fp = fingerprintOf(base);
  assert.match(fp, /^[0-9a-f]{64}$/);
  assert.equal(fingerprintOf({ ...base, body: { body: 'b', title: 't' } }), fp);
  assert.equal(fingerprintOf({ ...base, method: 'post' }), fp);
  for (const changed of [
    { method: 'PATCH' },
    { path: '/api/notes/x' },
    { userId: 'u2' },
    { body: { title: 't', body: 'B' } },
    { ifMatch: '"1"' },
  ]) {
    assert.notEqual(fingerprintOf({ ...base, ...changed }), fp, JSON.stringify(changed));
  }
  assert.notEqual(fingerprintOf({ ...base, ifMatch: '"1"' }), fingerprintOf({ ...base, ifMatch: '"2"' }));
});

test('a keyed write is fenced by its key, an unkeyed one by its fingerprint', () => {
  const fp = fingerprintOf(base);
  assert.equal(keyHashOf(base, fp), fp);
  const keyed = keyHashOf({ ...base, key: 'abc' }, fp);
  assert.match(keyed, /^[0-9a-f]{64}$/);
  assert.notEqual(keyed, fp);
  assert.equal(keyHashOf({ ...base, body: 'other', key: 'abc' }, 'other'), keyed, 'the key alone decides');
});

test('If-Match: strong comparison, lists and *', () => {
  assert.equal(ifMatchSatisfied(undefined, 3), true);
  assert.equal(ifMatchSatisfied('"3"', 3), true);
  assert.equal(ifMatchSatisfied('*', 3), true);
  assert.equal(ifMatchSatisfied('"1", "3"', 3), true);
  assert.equal(ifMatchSatisfied('"2"', 3), false);
  assert.equal(ifMatchSatisfied('W/"3"', 3), false);
  assert.equal(ifMatchSatisfied('3', 3), false);
  assert.equal(ifMatchSatisfied('"33"', 3), false);
});
