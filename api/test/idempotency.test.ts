import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { deleteRedisKeys } from '@notes/contracts/testing';
import type { LightMyRequestResponse } from 'fastify';
import { fingerprintOf, keyHashOf } from '../src/modules/idempotency/idempotency.ts';
import { idempotencyRedisKey } from '../src/modules/idempotency/idempotency-store.ts';
import { startTestApp, type TestApp } from './helpers.ts';
import { call, count, createNote, isProblem, newUser, query, type TestUser, tableCounts } from './notes-fixtures.ts';

/** Idempotent writes (docs/guarantees.md and docs/api.md) against the real Redis and MariaDB. */

let t: TestApp;
let alice: TestUser;
let bob: TestUser;

before(async () => {
  t = await startTestApp('idem');
  await t.deps.outbox.stop(); // its rows stay, for tableCounts
  [alice, bob] = await Promise.all([newUser(t, 'alice'), newUser(t, 'bob')]);
});
after(() => t?.close());

const key = () => `key-${randomUUID()}`;
const post = (user: TestUser, body: unknown, headers: Record<string, string> = {}) =>
  call(t, user, 'POST', '/api/notes', body, headers);
const notesTitled = (title: string) => count(t, 'SELECT COUNT(*) AS n FROM notes WHERE title = ?', [title]);
const replayed = (res: LightMyRequestResponse) => res.headers['idempotent-replayed'] === 'true';

function assertSameAnswer(first: LightMyRequestResponse, repeat: LightMyRequestResponse) {
  assert.equal(repeat.statusCode, first.statusCode);
  assert.deepEqual(repeat.json(), first.json());
  assert.equal(repeat.headers.location, first.headers.location);
}

describe('Idempotency-Key', () => {
  test('a repeat replays status, body and Location with Idempotent-Replayed, and writes nothing', async () => {
    const k = key();
    const first = await post(alice, { title: 'keyed once', body: 'b', priority: 'high' }, { 'idempotency-key': k });
    assert.equal(first.statusCode, 201);
    assert.equal(first.headers['idempotent-replayed'], undefined);
    const before = await tableCounts(t);
    // The same payload with its keys in another order is the same request (canonical JSON).
    const raw = '{"priority":"high","body":"b","title":"keyed once"}';
    const repeat = await post(alice, raw, { 'idempotency-key': k, 'content-type': 'application/json' });
    assert.ok(replayed(repeat));
    assertSameAnswer(first, repeat);
    assert.deepEqual(await tableCounts(t), before);
    assert.equal(await notesTitled('keyed once'), 1);

    const fences = await query<{ response_status: number; location: string }>(
      t,
      'SELECT response_status, location FROM idempotency_fences WHERE user_id = ?',
      [alice.id],
    );
    assert.ok(fences.some((f) => f.response_status === 201 && f.location === first.headers.location));
  });

  test('the same key with another payload, path, method or If-Match is a 422 and writes nothing', async () => {
    const k = key();
    const note = (await post(alice, { title: 'k422' }, { 'idempotency-key': k })).json();
    const before = await tableCounts(t);
    const h = { 'idempotency-key': k };
    assert.ok(isProblem(await post(alice, { title: 'k422 changed' }, h), 422));
    assert.ok(isProblem(await call(t, alice, 'PATCH', `/api/notes/${note.id}`, { title: 'k422' }, h), 422));
    assert.ok(isProblem(await call(t, alice, 'DELETE', `/api/notes/${note.id}`, undefined, h), 422));
    assert.deepEqual(await tableCounts(t), before);

    const k2 = key();
    const p = await call(t, alice, 'PATCH', `/api/notes/${note.id}`, { title: 'p' }, { 'idempotency-key': k2 });
    assert.equal(p.statusCode, 200);
    const stale = await call(
      t,
      alice,
      'PATCH',
      `/api/notes/${note.id}`,
      { title: 'p' },
      {
        'idempotency-key': k2,
        'if-match': '"2"',
      },
    );
    assert.ok(isProblem(stale, 422));
  });

  test('keys are scoped to the user', async () => {
    const k = key();
    const a = await post(alice, { title: 'scoped' }, { 'idempotency-key': k });
    const b = await post(bob, { title: 'scoped' }, { 'idempotency-key': k });
    assert.equal(b.statusCode, 201);
    assert.ok(!replayed(b));
    assert.notEqual(b.json().id, a.json().id);
  });

  test('PATCH and DELETE replay too, without a second version or job', async () => {
    const note = await createNote(t, alice);
    const url = `/api/notes/${note.id}`;
    const k = key();
    const first = await call(t, alice, 'PATCH', url, { body: 'new' }, { 'idempotency-key': k, 'if-match': '"1"' });
    assert.equal(first.statusCode, 200);
    const repeat = await call(t, alice, 'PATCH', url, { body: 'new' }, { 'idempotency-key': k, 'if-match': '"1"' });
    assert.ok(replayed(repeat));
    assertSameAnswer(first, repeat);
    assert.equal((await call(t, alice, 'GET', url)).json().version, 2);
    assert.equal(await count(t, 'SELECT COUNT(*) AS n FROM jobs WHERE note_id = ?', [note.id]), 2);

    const kd = key();
    const del = await call(t, alice, 'DELETE', url, undefined, { 'idempotency-key': kd });
    assert.equal(del.statusCode, 204);
    const delAgain = await call(t, alice, 'DELETE', url, undefined, { 'idempotency-key': kd });
    assert.equal(delAgain.statusCode, 204);
    assert.ok(replayed(delAgain));
    assert.equal(delAgain.body, '');
  });

  test('50 concurrent POSTs with one key create exactly one note; the rest replay or answer 409', async () => {
    const k = key();
    const title = `concurrent keyed ${k}`;
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => post(alice, { title }, { 'idempotency-key': k })),
    );
    const created = answers.filter((r) => r.statusCode === 201);
    for (const r of answers) {
      assert.ok([201, 409].includes(r.statusCode), `${r.statusCode} ${r.body}`);
      if (r.statusCode === 409) assert.ok(Number(r.headers['retry-after']) >= 1);
    }
    assert.equal(created.filter((r) => !replayed(r)).length, 1);
    assert.equal(new Set(created.map((r) => r.json().id)).size, 1);
    assert.equal(await notesTitled(title), 1);
    assert.equal(await count(t, 'SELECT COUNT(*) AS n FROM jobs WHERE note_id = ?', [created[0]?.json().id]), 1);
  });

  test('a request still in flight gets 409 with Retry-After; once it finishes, the repeat replays', async () => {
    const note = await createNote(t, alice);
    const url = `/api/notes/${note.id}`;
    const k = key();
    // Hold the note's row lock so the first PATCH waits inside its transaction.
    const conn = await t.deps.database.pool.getConnection();
    try {
      await conn.query('START TRANSACTION');
      await conn.query('SELECT id FROM notes WHERE id = ? FOR UPDATE', [note.id]);
      const first = call(t, alice, 'PATCH', url, { title: 'slow' }, { 'idempotency-key': k });
      const redisKey = idempotencyRedisKey(alice.id, keyHashOf({ key: k } as never, ''));
      for (let i = 0; i < 100 && !(await t.deps.redis.get(redisKey)); i++) await new Promise((r) => setTimeout(r, 20));
      const during = await call(t, alice, 'PATCH', url, { title: 'slow' }, { 'idempotency-key': k });
      assert.ok(isProblem(during, 409), during.body);
      assert.ok(Number(during.headers['retry-after']) >= 1);
      await conn.query('ROLLBACK');
      const done = await first;
      assert.equal(done.statusCode, 200);
      const repeat = await call(t, alice, 'PATCH', url, { title: 'slow' }, { 'idempotency-key': k });
      assert.ok(replayed(repeat));
      assertSameAnswer(done, repeat);
    } finally {
      conn.release();
    }
  });
});

describe('nothing is stored for a request that was not carried out', () => {
  test('a failed auth or validation leaves the key free', async () => {
    const k = key();
    assert.ok(isProblem(await post(null as never, { title: 'free' }, { 'idempotency-key': k }), 401));
    assert.ok(isProblem(await post(alice, { title: '' }, { 'idempotency-key': k }), 400));
    const ok = await post(alice, { title: 'free' }, { 'idempotency-key': k });
    assert.equal(ok.statusCode, 201);
    assert.ok(!replayed(ok));
  });

  test('a 404 or 412 inside the write releases the claim', async () => {
    const k = key();
    const missing = '/api/notes/0190b1c2-0000-7000-8000-000000000000';
    assert.ok(isProblem(await call(t, alice, 'PATCH', missing, { title: 'x' }, { 'idempotency-key': k }), 404));
    assert.ok(isProblem(await call(t, alice, 'PATCH', missing, { title: 'x' }, { 'idempotency-key': k }), 404));
    const ok = await post(alice, { title: 'after 404' }, { 'idempotency-key': k });
    assert.equal(ok.statusCode, 201);
    assert.ok(!replayed(ok));
  });

  test('a write that fails in the database (500) rolls back and releases the key, so a retry runs', async () => {
    const title = `boom-${randomUUID().slice(0, 8)}`;
    await query(t, 'DROP TRIGGER IF EXISTS idem_boom');
    await query(
      t,
      `CREATE TRIGGER idem_boom BEFORE INSERT ON notes FOR EACH ROW
         BEGIN IF NEW.title LIKE 'boom-%' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'boom'; END IF; END`,
    );
    const k = key();
    const before = await tableCounts(t);
    try {
      for (let i = 0; i < 2; i++) {
        const res = await post(alice, { title }, { 'idempotency-key': k });
        assert.ok(isProblem(res, 500), `${res.statusCode} ${res.body}`);
        assert.doesNotMatch(res.body, /boom|SQLSTATE/, '5xx details never leak');
      }
      const unkeyed = await post(alice, { title });
      assert.ok(isProblem(unkeyed, 500));
      assert.deepEqual(await tableCounts(t), before, 'the fence, job and outbox rows rolled back with the note');
    } finally {
      await query(t, 'DROP TRIGGER IF EXISTS idem_boom');
    }
    const retry = await post(alice, { title }, { 'idempotency-key': k });
    assert.equal(retry.statusCode, 201);
    assert.ok(!replayed(retry));
    // Unkeyed writes only match unkeyed ones, and the failed one left nothing behind.
    const unkeyedRetry = await post(alice, { title });
    assert.equal(unkeyedRetry.statusCode, 201);
    assert.ok(!replayed(unkeyedRetry));
  });
});

describe('hashed payload, no header', () => {
  test('a repeat within the window replays; a different payload is a new write', async () => {
    const title = `unkeyed ${randomUUID()}`;
    const first = await post(alice, { title });
    assert.equal(first.statusCode, 201);
    const repeat = await post(alice, { title });
    assert.ok(replayed(repeat));
    assertSameAnswer(first, repeat);
    const other = await post(alice, { title, body: 'different' });
    assert.equal(other.statusCode, 201);
    assert.ok(!replayed(other));
    assert.equal(await notesTitled(title), 2);
    // Another user's identical payload is theirs.
    assert.ok(!replayed(await post(bob, { title })));
  });

  test('50 concurrent identical unkeyed POSTs create exactly one note', async () => {
    const title = `concurrent unkeyed ${randomUUID()}`;
    const answers = await Promise.all(Array.from({ length: 50 }, () => post(alice, { title })));
    for (const r of answers) assert.ok([201, 409].includes(r.statusCode), `${r.statusCode} ${r.body}`);
    assert.equal(answers.filter((r) => r.statusCode === 201 && !replayed(r)).length, 1);
    assert.equal(await notesTitled(title), 1);
  });

  test('after the window the same payload is a new write (the expired fence row is replaced)', async () => {
    const title = `window ${randomUUID()}`;
    const first = (await post(alice, { title })).json();
    const hash = fingerprintOf({ userId: alice.id, method: 'POST', path: '/api/notes', body: { title } });
    // Let the window pass: expire the fence row and the Redis record.
    await query(t, 'UPDATE idempotency_fences SET expires_at = NOW(3) - INTERVAL 1 SECOND WHERE key_hash = ?', [hash]);
    await t.deps.redis.del(idempotencyRedisKey(alice.id, hash));
    const second = await post(alice, { title });
    assert.equal(second.statusCode, 201);
    assert.ok(!replayed(second));
    assert.notEqual(second.json().id, first.id);
    assert.equal(await count(t, 'SELECT COUNT(*) AS n FROM idempotency_fences WHERE key_hash = ?', [hash]), 1);
    assert.ok(replayed(await post(alice, { title })), 'the new fence holds for the new window');
  });
});

describe('the database holds the fence', () => {
  test('with Redis emptied (a restart), keyed and unkeyed repeats still replay and 422 still holds', async () => {
    const k = key();
    const keyed = await post(alice, { title: 'survives restart' }, { 'idempotency-key': k });
    const unkeyedTitle = `unkeyed restart ${randomUUID()}`;
    const unkeyed = await post(alice, { title: unkeyedTitle });
    await deleteRedisKeys(t.ns.redisUrl, t.ns.redisKeyPrefix);

    const keyedAgain = await post(alice, { title: 'survives restart' }, { 'idempotency-key': k });
    assert.ok(replayed(keyedAgain));
    assertSameAnswer(keyed, keyedAgain);
    assert.ok(isProblem(await post(alice, { title: 'other' }, { 'idempotency-key': k }), 422));
    const unkeyedAgain = await post(alice, { title: unkeyedTitle });
    assert.ok(replayed(unkeyedAgain));
    assertSameAnswer(unkeyed, unkeyedAgain);
    assert.equal(await notesTitled('survives restart'), 1);
    assert.equal(await notesTitled(unkeyedTitle), 1);
  });

  test('with Redis emptied, repeats racing new writes: repeats replay, each new write creates one note', async () => {
    // They reach the database together and share group-committed transactions: a repeat's fence
    // fails its batch, which then runs write by write, so the new writes beside it still commit.
    const keys = Array.from({ length: 8 }, key);
    const firsts = await Promise.all(keys.map((k) => post(alice, { title: `race ${k}` }, { 'idempotency-key': k })));
    await deleteRedisKeys(t.ns.redisUrl, t.ns.redisKeyPrefix);
    const fresh = Array.from({ length: 8 }, key);
    const [repeats, news] = await Promise.all([
      Promise.all(keys.map((k) => post(alice, { title: `race ${k}` }, { 'idempotency-key': k }))),
      Promise.all(fresh.map((k) => post(alice, { title: `race ${k}` }, { 'idempotency-key': k }))),
    ]);
    repeats.forEach((r, i) => {
      assert.ok(replayed(r), `${r.statusCode} ${r.body}`);
      assertSameAnswer(firsts[i]!, r);
    });
    for (const r of news) {
      assert.equal(r.statusCode, 201, r.body);
      assert.ok(!replayed(r));
    }
    for (const k of [...keys, ...fresh]) assert.equal(await notesTitled(`race ${k}`), 1);
  });
});
