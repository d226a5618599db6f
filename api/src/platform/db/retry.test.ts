import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isDuplicateKey, isRolledBack, retryRolledBack } from './retry.ts';

/** mysql2's error as drizzle wraps it: the driver's code on the cause. */
const driverError = (code: string) =>
  Object.assign(new Error('query failed'), { cause: Object.assign(new Error(code), { code }) });

test('work InnoDB rolled back runs again, at most three times in all', async () => {
  let calls = 0;
  const answer = await retryRolledBack(async (attempt) => {
    calls++;
    if (attempt < 3) throw driverError(attempt === 1 ? 'ER_LOCK_DEADLOCK' : 'ER_LOCK_WAIT_TIMEOUT');
    return 'done';
  });
  assert.equal(answer, 'done');
  assert.equal(calls, 3);

  calls = 0;
  await assert.rejects(
    retryRolledBack(async () => {
      calls++;
      throw driverError('ER_LOCK_DEADLOCK');
    }),
    (err) => isRolledBack(err),
  );
  assert.equal(calls, 3, 'gives up after the third');
});

test('any other error is thrown at once, unless the caller names it', async () => {
  let calls = 0;
  const dup = driverError('ER_DUP_ENTRY');
  await assert.rejects(
    retryRolledBack(async () => {
      calls++;
      throw dup;
    }),
    dup,
  );
  assert.equal(calls, 1);
  const retried: number[] = [];
  const answer = await retryRolledBack(
    async (attempt) => {
      if (attempt === 1) throw dup;
      return attempt;
    },
    { also: isDuplicateKey, onRetry: (_err, attempt) => retried.push(attempt) },
  );
  assert.equal(answer, 2);
  assert.deepEqual(retried, [1]);
  assert.equal(isRolledBack(new Error('ER_LOCK_DEADLOCK')), false, 'only the driver code counts');
});
