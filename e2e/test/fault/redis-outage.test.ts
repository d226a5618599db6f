import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { type PrivateRedis, startPrivateRedis } from '@notes/contracts/testing';
import { type HttpResult, registerUsers, request, type User } from '../../src/http.ts';
import { checkPipeline } from '../../src/invariants.ts';
import { type Product, startProduct } from '../../src/product.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../../src/webhook-receiver.ts';
import { acceptedMore, startWriteLoad } from '../../src/write-load.ts';

/**
 * Redis hung (SIGSTOP) and gone (stopped, then back empty) under the real processes and real
 * HTTP: writes never hang, keyed writes go ahead fenced by the database (a repeat, concurrent or
 * after Redis lost everything, replays instead of writing twice), unkeyed writes answer 503 with
 * Retry-After and write nothing, reads and the pipeline keep working.
 */
const HANG_BOUND_MS = 1500;
/** Under concurrent load on a shared 2-core machine; still far below any client timeout. */
const LOAD_HANG_BOUND_MS = 3000;

let redis: PrivateRedis;
let product: Product;
let receiver: WebhookReceiver;

before(async () => {
  redis = await startPrivateRedis();
  receiver = await startWebhookReceiver();
  product = await startProduct('e2eredis', { env: { REDIS_URL: redis.url } });
  await product.startApi();
  await product.startConsumer();
});

after(async () => {
  await product?.close();
  await receiver?.close();
  await redis?.close();
});

async function bounded(what: string, fn: () => Promise<HttpResult>): Promise<HttpResult> {
  const res = await fn();
  assert.ok(res.ms < HANG_BOUND_MS, `${what} took ${Math.round(res.ms)} ms`);
  return res;
}

const notesOf = (user: User) => product.count('SELECT COUNT(*) FROM notes WHERE user_id = ?', [user.id]);

/** The checks that must hold while Redis is unusable. */
async function duringOutage(user: User, known: { id: string }) {
  const ready = await bounded('ready', () => request(product.apiUrl, 'GET', '/health/ready'));
  assert.equal(ready.status, 200, 'a Redis outage degrades, it does not make the API unready');
  assert.equal((ready.json as { checks: { redis: { status: string } } }).checks.redis.status, 'down');

  const read = await bounded('GET note', () =>
    request(product.apiUrl, 'GET', `/api/notes/${known.id}`, { token: user.token }),
  );
  assert.equal(read.status, 200);

  const before = await notesOf(user);
  const unkeyed = await bounded('unkeyed POST', () =>
    request(product.apiUrl, 'POST', '/api/notes', { token: user.token, body: { title: `unkeyed ${randomUUID()}` } }),
  );
  assert.equal(unkeyed.status, 503, unkeyed.text);
  assert.match(unkeyed.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.ok(Number(unkeyed.headers.get('retry-after')) >= 1, 'Retry-After');
  assert.equal(await notesOf(user), before, 'a 503 wrote nothing');

  // The same keyed write five times at once: one note, five identical answers.
  const key = randomUUID();
  const burst = await Promise.all(
    Array.from({ length: 5 }, () =>
      request(product.apiUrl, 'POST', '/api/notes', {
        token: user.token,
        body: { title: `burst ${key}` },
        headers: { 'idempotency-key': key },
      }),
    ),
  );
  for (const r of burst) {
    assert.equal(r.status, 201, r.text);
    assert.ok(r.ms < LOAD_HANG_BOUND_MS, `a keyed repeat took ${Math.round(r.ms)} ms`);
  }
  assert.equal(new Set(burst.map((r) => (r.json as { id: string }).id)).size, 1, 'one note for one key');
  assert.equal(await notesOf(user), before + 1);
}

for (const mode of ['paused', 'stopped'] as const) {
  test(`Redis ${mode} under write load: no hang, no duplicate, unkeyed 503, the pipeline goes on`, async (t) => {
    const [user, ...loaders] = await registerUsers(product.apiUrl, 3, mode, receiver.url);
    const known = (
      await request(product.apiUrl, 'POST', '/api/notes', { token: user!.token, body: { title: 'known' } })
    ).json as { id: string };
    const load = startWriteLoad({
      apiUrl: product.apiUrl,
      users: loaders,
      label: mode,
      concurrency: 4,
      ratePerSec: 40,
    });
    await acceptedMore(load, 20);
    const earlier = [...load.report.accepted.entries()].slice(0, 10);
    const faultTimes: number[] = [];
    if (mode === 'paused') redis.pause();
    else await redis.stop();
    try {
      await acceptedMore(load, 40);
      await duringOutage(user!, known);
      if (mode === 'stopped') {
        // An API that starts while Redis is down starts, and works the same way.
        await product.api!.kill();
        await product.startApi();
        faultTimes.push(Date.now()); // a webhook whose /complete met the dead API is sent again
        await duringOutage(user!, known);
      }
    } finally {
      if (mode === 'paused') redis.resume();
      else await redis.start(); // back, and empty: every idempotency record is gone
    }
    // Keys answered before the outage replay from the database fence: no second note.
    for (const [key, accepted] of earlier) {
      const again = await request(product.apiUrl, 'POST', '/api/notes', {
        token: loaders.find((u) => u.id === accepted.userId)!.token,
        body: accepted.body,
        headers: { 'idempotency-key': key },
      });
      assert.equal(again.status, 201, again.text);
      assert.equal(again.headers.get('idempotent-replayed'), 'true');
      assert.equal((again.json as { id: string }).id, accepted.noteId);
    }
    await acceptedMore(load, 20);
    const report = await load.stop();
    // Every answer a 201 (the 'stopped' case also restarts the API: its clients see refused connections meanwhile).
    const answers = Object.keys(report.statuses).filter((s) => !(mode === 'stopped' && s.startsWith('network:')));
    assert.deepEqual(answers, ['201'], JSON.stringify(report.statuses));
    assert.ok(report.maxMs['201']! < LOAD_HANG_BOUND_MS, `slowest write ${report.maxMs['201']} ms`);
    const summary = await checkPipeline({
      product,
      amqpUrl: product.ns.amqpUrl,
      userIds: [user!.id, ...loaders.map((u) => u.id)],
      load: report,
      receiver,
      faultTimes,
      // Live events go to Redis: those of the outage are lost by design (the writes are not).
      events: 'at-most',
      redisUrl: redis.url,
    });
    t.diagnostic(`${JSON.stringify(summary)}; slowest 201 ${report.maxMs['201']} ms`);
  });
}
