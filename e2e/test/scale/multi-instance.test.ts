import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { waitFor } from '@notes/contracts/testing';
import { registerUser, registerUsers, request } from '../../src/http.ts';
import { checkPipeline } from '../../src/invariants.ts';
import { type Product, type ProductProcess, startProduct } from '../../src/product.ts';
import { openSse } from '../../src/sse.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../../src/webhook-receiver.ts';
import { acceptedMore, startWriteLoad } from '../../src/write-load.ts';

/**
 * Many instances on one database (docs/scaling.md): two API processes and two consumer
 * processes share the namespace's MariaDB, Redis and RabbitMQ vhost. Writes go to both APIs; both
 * relays publish (SKIP LOCKED keeps them apart), both consumers process, and the guarantee holds.
 * A client moves between APIs with Last-Event-ID, and one Idempotency-Key raced through both
 * APIs makes one note.
 */
let product: Product;
let receiver: WebhookReceiver;
let api2: ProductProcess & { url: string };

before(async () => {
  receiver = await startWebhookReceiver();
  product = await startProduct('e2emulti', { env: { CONSUMER_PREFETCH: '16' } });
  await product.startApi();
  api2 = await product.startApiInstance();
  await product.startConsumer();
  await product.startConsumer({ API_URL: api2.url });
});

after(async () => {
  await product?.close();
  await receiver?.close();
});

/** A counter's total over all label sets in a Prometheus text exposition. */
async function counter(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

test('writes through two APIs, two relays and two consumers: every 201 processed once, both instances did work', async (t) => {
  const users = await registerUsers(product.apiUrl, 4, 'multi', receiver.url);
  const loads = [
    startWriteLoad({ apiUrl: product.apiUrl, users: users.slice(0, 2), label: 'm1', concurrency: 4, ratePerSec: 30 }),
    startWriteLoad({ apiUrl: api2.url, users: users.slice(2), label: 'm2', concurrency: 4, ratePerSec: 30 }),
  ];
  await Promise.all(loads.map((l) => acceptedMore(l, 150)));
  const [r1, r2] = await Promise.all(loads.map((l) => l.stop()));
  const accepted = new Map([...r1!.accepted, ...r2!.accepted]);
  const report = { ...r1!, accepted, mismatches: [...r1!.mismatches, ...r2!.mismatches] };
  const summary = await checkPipeline({
    product,
    amqpUrl: product.ns.amqpUrl,
    userIds: users.map((u) => u.id),
    load: report,
    receiver,
  });
  assert.equal(summary.processed, accepted.size);

  const published = await Promise.all(
    [product.apiUrl, api2.url].map((u) => counter(u, 'notes_outbox_published_total')),
  );
  const consumed = await Promise.all(
    product.consumers.map((c) => counter(`http://127.0.0.1:${c.port}`, 'notes_jobs_processed_total')),
  );
  t.diagnostic(`accepted ${accepted.size}; published per API ${published}; jobs per consumer ${consumed}`);
  assert.ok(
    published.every((n) => n > 0),
    `both relays published: ${published}`,
  );
  // Every job (note.process and webhook.deliver) was published once by one relay or the other.
  assert.equal(published[0]! + published[1]!, summary.jobs, 'no outbox row published by both relays');
  assert.ok(
    consumed.every((n) => n > 0),
    `both consumers processed: ${consumed}`,
  );
});

test('a client moves to the other API with Last-Event-ID: no gap, no repeat', async () => {
  const user = await registerUser(product.apiUrl, 'sse');
  const witness = await openSse(product.apiUrl, user.token);
  const first = await openSse(product.apiUrl, user.token);
  const create = async (url: string, i: number) => {
    const res = await request(url, 'POST', '/api/notes', { token: user.token, body: { title: `sse ${i}`, body: 'x' } });
    assert.equal(res.status, 201);
  };
  try {
    for (let i = 0; i < 3; i++) await create(api2.url, i);
    const seen = (await first.waitFor(2)).slice(0, 2);
    first.close();
    for (let i = 3; i < 6; i++) await create(product.apiUrl, i);
    // Six notes: created and processed each.
    const all = await witness.waitFor(12, 30_000);
    const resumed = await openSse(api2.url, user.token, seen[1]!.id);
    try {
      const rest = all.slice(all.findIndex((e) => e.id === seen[1]!.id) + 1);
      await resumed.waitFor(rest.length, 30_000);
      assert.deepEqual(
        resumed.events.slice(0, rest.length).map((e) => `${e.id} ${e.event}`),
        rest.map((e) => `${e.id} ${e.event}`),
      );
      assert.deepEqual(
        [...seen, ...resumed.events].map((e) => e.id),
        all.slice(0, 2 + resumed.events.length).map((e) => e.id),
        'the two connections together are the stream, in order, once',
      );
    } finally {
      resumed.close();
    }
  } finally {
    first.close();
    witness.close();
  }
});

test('one Idempotency-Key raced through both APIs makes one note; every 201 names it', async () => {
  const user = await registerUser(product.apiUrl, 'idem');
  const urls = [product.apiUrl, api2.url, product.apiUrl, api2.url];
  for (let round = 0; round < 15; round++) {
    const key = `race-${round}`;
    const body = { title: key, body: `raced ${round}` };
    const send = async (url: string) => {
      for (;;) {
        const res = await request(url, 'POST', '/api/notes', {
          token: user.token,
          body,
          headers: { 'idempotency-key': key },
        });
        if (res.status === 409) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        return res;
      }
    };
    const answers = await Promise.all(urls.map(send));
    assert.deepEqual(
      answers.map((a) => a.status),
      [201, 201, 201, 201],
      answers.map((a) => a.text).join('\n'),
    );
    const ids = new Set(answers.map((a) => (a.json as { id: string }).id));
    assert.equal(ids.size, 1, `round ${round}: the 201s named ${[...ids]}`);
    const replayed = answers.filter((a) => a.headers.get('idempotent-replayed') === 'true').length;
    assert.equal(replayed, 3, `round ${round}: one original and three replays`);
  }
  await waitFor(
    'the raced notes',
    async () =>
      (await product.count("SELECT COUNT(*) FROM notes WHERE user_id = ? AND title LIKE 'race-%'", [user.id])) === 15,
  );
  const dupes = await product.query<{ title: string }>(
    "SELECT title FROM notes WHERE user_id = ? AND title LIKE 'race-%' GROUP BY title HAVING COUNT(*) > 1",
    [user.id],
  );
  assert.deepEqual(dupes, []);
});

test("one user's write rate is one bucket across API instances, not one per instance", async () => {
  // Two more instances with a small limit (the same Redis prefix, so the same buckets).
  const limits = { USER_WRITE_RATE: '1', USER_WRITE_BURST: '10' };
  const a = await product.startApiInstance(limits);
  const b = await product.startApiInstance(limits);
  try {
    const user = await registerUser(a.url, 'rate');
    const answers: Awaited<ReturnType<typeof request>>[] = [];
    for (let i = 0; i < 30; i++) {
      const url = i % 2 === 0 ? a.url : b.url;
      answers.push(
        await request(url, 'POST', '/api/notes', { token: user.token, body: { title: `rate ${i}`, body: 'x' } }),
      );
    }
    const accepted = answers.filter((r) => r.status === 201).length;
    const limited = answers.filter((r) => r.status === 429);
    assert.equal(accepted + limited.length, 30, answers.map((r) => r.status).join(','));
    // Ten from the burst and about one a second while the 30 requests ran (per-instance buckets
    // would have let about twenty through).
    const seconds = answers.reduce((s, r) => s + r.ms, 0) / 1000;
    assert.ok(accepted >= 10 && accepted <= 10 + Math.ceil(seconds) + 1, `${accepted} accepted in ${seconds} s`);
    for (const r of limited) {
      assert.ok(Number(r.headers.get('retry-after')) >= 1, 'Retry-After');
      assert.match(r.headers.get('content-type') ?? '', /problem\+json/);
    }
    const byInstance = [a.url, b.url].map(
      (url) => answers.filter((r, i) => (i % 2 === 0 ? a.url : b.url) === url && r.status === 429).length,
    );
    assert.ok(
      byInstance.every((n) => n > 0),
      `both instances refuse once the shared bucket is empty: ${byInstance}`,
    );
  } finally {
    await a.terminate();
    await b.terminate();
  }
});
