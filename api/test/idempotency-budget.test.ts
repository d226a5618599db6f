import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { idempotencyBytesKey, idempotencyRedisKey } from '../src/modules/idempotency/idempotency-store.ts';
import { startTestApp, type TestApp } from './helpers.ts';
import { call, newUser } from './notes-fixtures.ts';

/**
 * What Redis keeps of one user's idempotent answers is bounded in bytes
 * (IDEMPOTENCY_MAX_BYTES_PER_USER, docs/isolation.md): past the budget answers are kept without
 * their body, then not at all, and every repeat still replays the first answer (from the
 * database fence).
 */
const BUDGET = 64 * 1024;

let t: TestApp;
before(async () => {
  t = await startTestApp('idembudget', { IDEMPOTENCY_MAX_BYTES_PER_USER: String(BUDGET), USER_WRITE_RATE: '0' });
});
after(() => t?.close());

async function userRecordBytes(userId: string): Promise<{ bytes: number; full: number; slim: number }> {
  const prefix = t.ns.redisKeyPrefix;
  const keys = await t.deps.redis.keys(`${prefix}${idempotencyRedisKey(userId, '*')}`);
  let bytes = 0;
  let full = 0;
  let slim = 0;
  for (const k of keys) {
    const v = (await t.deps.redis.get(k.slice(prefix.length))) ?? '';
    bytes += Buffer.byteLength(v) + Buffer.byteLength(k.slice(prefix.length));
    if (v.includes('"x":1')) slim++;
    else full++;
  }
  return { bytes, full, slim };
}

test('one user’s stored answers stay within the byte budget, and every repeat still replays', async () => {
  const heavy = await newUser(t, 'heavy');
  const light = await newUser(t, 'light');
  const body = 'b'.repeat(20_000);
  const writes: { key: string; id: string }[] = [];
  for (let i = 0; i < 30; i++) {
    const key = randomUUID();
    const res = await call(t, heavy, 'POST', '/api/notes', { title: `big ${i}`, body }, { 'idempotency-key': key });
    assert.equal(res.statusCode, 201, res.body);
    writes.push({ key, id: res.json().id });
  }
  const kept = await userRecordBytes(heavy.id);
  assert.ok(kept.bytes <= BUDGET, `${kept.bytes} bytes kept for one user`);
  assert.ok(kept.full >= 2 && kept.full <= 3, `${kept.full} full answers`);
  assert.ok(kept.slim > 0, 'then slim ones');
  assert.ok(kept.full + kept.slim < 30, 'then none');
  assert.ok(Number(await t.deps.redis.get(idempotencyBytesKey(heavy.id))) <= BUDGET);

  for (const { key, id } of writes) {
    const again = await call(
      t,
      heavy,
      'POST',
      '/api/notes',
      { title: `big ${writes.findIndex((w) => w.key === key)}`, body },
      { 'idempotency-key': key },
    );
    assert.equal(again.statusCode, 201, again.body);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal(again.json().id, id);
    assert.equal(again.json().body, body);
  }
  assert.ok((await userRecordBytes(heavy.id)).bytes <= BUDGET, 'replays did not grow it past the budget');

  // Another user's budget is their own.
  const res = await call(t, light, 'POST', '/api/notes', { title: 'light', body }, { 'idempotency-key': randomUUID() });
  assert.equal(res.statusCode, 201);
  assert.deepEqual(await userRecordBytes(light.id).then((k) => [k.full, k.slim]), [1, 0]);
});
