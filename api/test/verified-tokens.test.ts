import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VerifiedTokens } from '../src/modules/auth/auth-plugin.ts';

const claims = (sub: string, expInS: number) => ({
  sub,
  role: 'user' as const,
  tv: 0,
  exp: Math.floor(Date.now() / 1000) + expInS,
});

test('a verified token is remembered until its exp, never past it', () => {
  const tokens = new VerifiedTokens(10);
  tokens.set('live', claims('a', 3600));
  tokens.set('expired', claims('b', -1));
  assert.equal(tokens.get('live')?.sub, 'a');
  assert.equal(tokens.get('expired'), null, 'an expired token is verified again (and refused)');
  assert.equal(tokens.get('unknown'), null);
  tokens.set('no-exp', { sub: 'c', role: 'user', tv: 0 });
  assert.equal(tokens.get('no-exp'), null, 'a token without exp is not remembered');
});

test('at most max tokens are kept, the oldest going first', () => {
  const tokens = new VerifiedTokens(3);
  for (const t of ['t1', 't2', 't3', 't4']) tokens.set(t, claims(t, 3600));
  assert.equal(tokens.size, 3);
  assert.equal(tokens.get('t1'), null);
  assert.equal(tokens.get('t4')?.sub, 't4');
});
