import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type PrivateRedis, startPrivateRedis } from '@notes/contracts/testing';
import type { LightMyRequestResponse } from 'fastify';
import { startTestApp, type TestApp } from './helpers.ts';
import { call, count, createNote, isProblem, newUser, type TestUser, tableCounts, timed } from './notes-fixtures.ts';

/**
 * Redis outages (docs/guarantees.md and docs/api.md) on a redis-server of this test's own: writes never
 * hang and never duplicate, keyed writes go ahead fenced by the database, unkeyed writes answer
 * 503 with Retry-After, reads keep working, and the cache is not stale once Redis is back.
 */

/** "Detected within about a second": a bound on hanging, not a speed assertion. */
const HANG_BOUND_MS = 1500;

let redis: PrivateRedis;
let t: TestApp;
let alice: TestUser;

before(async () => {
  redis = await startPrivateRedis();
  t = await startTestApp('idemout', { REDIS_URL: redis.url });
  await t.deps.outbox.stop(); // its rows stay, for tableCounts
  alice = await newUser(t, 'alice');
});
after(async () => {
  await t?.close();
  await redis?.close();
});

async function bounded(what: string, fn: () => Promise<LightMyRequestResponse>): Promise<LightMyRequestResponse> {
  const { value, ms } = await timed(fn);
  assert.ok(ms < HANG_BOUND_MS, `${what} took ${Math.round(ms)} ms`);
  return value;
}

async function waitForRedis(): Promise<void> {
  for (let i = 0; i < 100 && t.deps.redis.status !== 'ready'; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(t.deps.redis.status, 'ready');
  // Past the guard's cool-down after the failures of the outage.
  await new Promise((r) => setTimeout(r, 1100));
}

/** Runs the outage checks with Redis made unusable by `breakIt`, then restores it. */
function outageSuite(name: string, breakIt: () => Promise<void> | void, repair: () => Promise<void> | void) {
  describe(name, () => {
    let note: { id: string };
    let broken = false;
    const restore = async () => {
      if (broken) await repair();
      broken = false;
      await waitForRedis();
    };
    before(async () => {
      note = await createNote(t, alice, { title: `before ${name}` });
      await call(t, alice, 'GET', `/api/notes/${note.id}`); // cached while Redis is up
      await call(t, alice, 'GET', '/api/notes');
      await breakIt();
      broken = true;
    });
    after(restore);

    test('reads keep working', async () => {
      const got = await bounded('GET note', () => call(t, alice, 'GET', `/api/notes/${note.id}`));
      assert.equal(got.statusCode, 200);
      const list = await bounded('GET list', () => call(t, alice, 'GET', '/api/notes'));
      assert.equal(list.statusCode, 200);
      assert.ok(list.json().total >= 1);
      const jobs = await bounded('GET jobs', () => call(t, alice, 'GET', `/api/notes/${note.id}/jobs`));
      assert.equal(jobs.statusCode, 200);
    });

    test('a keyed write goes ahead, and its repeats replay without a duplicate', async () => {
      const key = randomUUID();
      const title = `keyed during ${name} ${key}`;
      const h = { 'idempotency-key': key };
      const first = await bounded('keyed POST', () => call(t, alice, 'POST', '/api/notes', { title }, h));
      assert.equal(first.statusCode, 201, first.body);
      const repeat = await bounded('keyed repeat', () => call(t, alice, 'POST', '/api/notes', { title }, h));
      assert.equal(repeat.statusCode, 201);
      assert.equal(repeat.headers['idempotent-replayed'], 'true');
      assert.deepEqual(repeat.json(), first.json());
      assert.equal(repeat.headers.location, first.headers.location);
      const other = await bounded('422', () => call(t, alice, 'POST', '/api/notes', { title: 'other' }, h));
      assert.ok(isProblem(other, 422));
      // Concurrent repeats wait on the fence row and replay.
      const burst = await Promise.all(
        Array.from({ length: 10 }, () => call(t, alice, 'POST', '/api/notes', { title }, h)),
      );
      for (const r of burst) assert.equal(r.statusCode, 201);
      assert.equal(await count(t, 'SELECT COUNT(*) AS n FROM notes WHERE title = ?', [title]), 1);

      const k2 = { 'idempotency-key': randomUUID() };
      const patch = await bounded('keyed PATCH', () =>
        call(t, alice, 'PATCH', `/api/notes/${first.json().id}`, { body: 'x' }, k2),
      );
      assert.equal(patch.statusCode, 200);
      const patchAgain = await bounded('keyed PATCH repeat', () =>
        call(t, alice, 'PATCH', `/api/notes/${first.json().id}`, { body: 'x' }, k2),
      );
      assert.equal(patchAgain.headers['idempotent-replayed'], 'true');
      assert.equal(patchAgain.json().version, 2);
    });

    test('an unkeyed write answers 503 with Retry-After and writes nothing', async () => {
      const before = await tableCounts(t);
      const res = await bounded('unkeyed POST', () => call(t, alice, 'POST', '/api/notes', { title: 'unkeyed' }));
      assert.ok(isProblem(res, 503), res.body);
      assert.ok(Number(res.headers['retry-after']) >= 1);
      const patch = await bounded('unkeyed PATCH', () =>
        call(t, alice, 'PATCH', `/api/notes/${note.id}`, { title: 'unkeyed' }),
      );
      assert.ok(isProblem(patch, 503));
      assert.deepEqual(await tableCounts(t), before);
    });

    test('a keyed change made during the outage is what reads show once Redis is back', async () => {
      const res = await bounded('keyed PATCH', () =>
        call(
          t,
          alice,
          'PATCH',
          `/api/notes/${note.id}`,
          { title: `changed during ${name}` },
          {
            'idempotency-key': randomUUID(),
          },
        ),
      );
      assert.equal(res.statusCode, 200);
      await restore();
      const got = await call(t, alice, 'GET', `/api/notes/${note.id}`);
      assert.equal(got.json().title, `changed during ${name}`, 'the cache must not serve the note from before');
      assert.equal(got.headers.etag, `"${res.json().version}"`);
      const list = (await call(t, alice, 'GET', '/api/notes')).json();
      assert.equal(list.data.find((n: { id: string }) => n.id === note.id)?.title, `changed during ${name}`);
      // The pipeline would now queue work as usual: Redis is used again.
      const unkeyed = await call(t, alice, 'POST', '/api/notes', { title: `after ${name}` });
      assert.equal(unkeyed.statusCode, 201);
    });
  });
}

// Connection refused: the server is gone (and comes back empty).
outageSuite(
  'redis stopped',
  () => redis.stop(),
  () => redis.start(),
);
// The server hangs: connections stay open, nothing answers (the client's timeout must fire).
outageSuite(
  'redis hung',
  () => redis.pause(),
  () => redis.resume(),
);
