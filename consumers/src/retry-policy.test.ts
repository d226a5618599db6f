import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiRejectedError, ApiUnavailableError, ChannelGoneError, PermanentJobError, PublishError } from './errors.ts';
import { classifyError, decide, retryDelayMs } from './retry-policy.ts';

const config = { retryDelaysMs: [1000, 5000, 30000], maxAttempts: 4 };

test('each error type has its fate', () => {
  assert.deepEqual(classifyError(new Error('boom')), { action: 'retry' });
  assert.deepEqual(classifyError('a string'), { action: 'retry' });
  assert.deepEqual(classifyError(new ApiUnavailableError('down')), { action: 'requeue' });
  assert.deepEqual(classifyError(new PublishError('nacked')), { action: 'requeue' });
  assert.deepEqual(classifyError(new ChannelGoneError('closed')), { action: 'abandon' });
  assert.deepEqual(classifyError(new ApiRejectedError(400, 'bad')), { action: 'dead-letter', reason: 'rejected' });
  assert.deepEqual(classifyError(new PermanentJobError('410')), { action: 'dead-letter', reason: 'permanent' });
  assert.deepEqual(classifyError(new DOMException('aborted', 'AbortError')), { action: 'requeue' });
  const webhook = Object.assign(new Error('HTTP 404'), { retryable: false });
  assert.deepEqual(classifyError(webhook), { action: 'dead-letter', reason: 'permanent' });
  const flaky = Object.assign(new Error('HTTP 503'), { retryable: true });
  assert.deepEqual(classifyError(flaky), { action: 'retry' });
});

test('delays follow RETRY_DELAYS_MS by attempt; beyond the list, the last one', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 9].map((a) => retryDelayMs(config.retryDelaysMs, a)),
    [1000, 5000, 30000, 30000, 30000],
  );
  assert.equal(retryDelayMs([7], 0), 7);
});

test('an ordinary failure retries until the last attempt, then dead-letters', () => {
  assert.deepEqual(decide(new Error('x'), 1, config), { action: 'retry', delayMs: 1000 });
  assert.deepEqual(decide(new Error('x'), 3, config), { action: 'retry', delayMs: 30000 });
  assert.deepEqual(decide(new Error('x'), 4, config), { action: 'dead-letter', reason: 'max_attempts' });
  assert.deepEqual(decide(new Error('x'), 9, config), { action: 'dead-letter', reason: 'max_attempts' });
  // Infrastructure trouble never spends the last attempt.
  assert.deepEqual(decide(new ApiUnavailableError('down'), 4, config), { action: 'requeue' });
});
