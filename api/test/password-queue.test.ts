import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { ConcurrencyLimit, HasherBusyError } from '../src/modules/auth/password-hasher.ts';
import { startTestApp } from './helpers.ts';

/**
 * The password-hashing queue is bounded (docs/isolation.md): past PASSWORD_HASH_QUEUE waiting
 * hashes, register and login answer 503 with Retry-After instead of queueing without end.
 */

test('ConcurrencyLimit refuses a task when maxWaiting already wait, and serves the rest', async () => {
  const limit = new ConcurrencyLimit(1, 1);
  let release!: () => void;
  const first = limit.run(() => new Promise<void>((r) => (release = r)));
  const second = limit.run(async () => 'second');
  await assert.rejects(
    limit.run(async () => 'third'),
    (err) => err instanceof HasherBusyError,
  );
  release();
  await first;
  assert.equal(await second, 'second');
  assert.equal(await limit.run(async () => 'later'), 'later', 'room again once the queue drained');
});

test('a burst of registrations beyond the queue gets 503 + Retry-After, never a 500, and nothing half-done', async () => {
  const t = await startTestApp('hashqueue', { PASSWORD_HASH_QUEUE: '1', AUTH_ADDRESS_RATE_PER_MINUTE: '0' });
  try {
    const answers = await Promise.all(
      Array.from({ length: 12 }, () =>
        t.app.inject({
          method: 'POST',
          url: '/api/auth/register',
          payload: { name: 'n', email: `q-${randomBytes(5).toString('hex')}@example.test`, password: 'password-123' },
        }),
      ),
    );
    const codes = answers.map((a) => a.statusCode);
    assert.ok(
      codes.every((c) => c === 201 || c === 503),
      codes.join(','),
    );
    const refused = answers.filter((a) => a.statusCode === 503);
    assert.ok(refused.length > 0, `some refused: ${codes.join(',')}`);
    for (const r of refused) {
      assert.match(String(r.headers['content-type']), /^application\/problem\+json/);
      assert.ok(Number(r.headers['retry-after']) >= 1);
    }
    const [[row]] = (await t.deps.database.pool.query('SELECT COUNT(*) AS n FROM users')) as unknown as [
      [{ n: number }],
    ];
    assert.equal(Number(row.n), codes.filter((c) => c === 201).length, 'exactly the accepted ones exist');
  } finally {
    await t.close();
  }
});
