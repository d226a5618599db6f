import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactQueryTokens } from './logger.ts';

test('query tokens never reach the logs', () => {
  assert.equal(redactQueryTokens('/api/events?access_token=abc.def&x=1'), '/api/events?access_token=[redacted]&x=1');
  assert.equal(redactQueryTokens('/api/events?x=1&ACCESS_TOKEN=abc'), '/api/events?x=1&ACCESS_TOKEN=[redacted]');
  assert.equal(redactQueryTokens('/api/notes?q=token'), '/api/notes?q=token');
});
