import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { QUEUES } from '@notes/contracts';
import { waitFor } from '@notes/contracts/testing';
import { registerUser, request, type User } from '../../src/http.ts';
import { type Product, startProduct } from '../../src/product.ts';
import { type RabbitNode, startRabbitNode } from '../../src/rabbit-node.ts';

/**
 * A broker that blocks publishers (a memory or disk alarm, connection.blocked) on a node of this
 * file's own: the API keeps accepting writes, its relay sends nothing into the blocked
 * connection (each publish would only wait for a confirm that cannot come), and once the alarm
 * clears every row is published. The relay's other faults (a channel closed under a live
 * connection, a topology assertion that fails, a node lost mid-confirm) are in
 * api/test/outbox-relay-recovery.test.ts; a whole cluster losing nodes in test/scale.
 */
let rabbit: RabbitNode;
let product: Product;

before(async () => {
  rabbit = await startRabbitNode('blk');
  product = await startProduct('e2eblk', { amqpUrl: rabbit.url });
  await product.startApi();
});

after(async () => {
  await product?.close();
  await rabbit?.close();
});

const unsentJobs = () => product.count("SELECT COUNT(*) FROM outbox WHERE kind = 'job' AND sent_at IS NULL");

async function write(user: User, title: string): Promise<void> {
  const res = await request(product.apiUrl, 'POST', '/api/notes', { token: user.token, body: { title, body: 'b' } });
  assert.equal(res.status, 201, res.text);
}

test('publishers blocked by a resource alarm: writes go on, nothing is pushed into the blocked connection, all is published once it clears', async () => {
  const user = await registerUser(product.apiUrl, 'blk');
  await write(user, 'before the alarm');
  await waitFor('the first job published', async () => (await unsentJobs()) === 0);

  // A watermark of 0 raises the memory alarm at once: the broker blocks every connection that publishes.
  await rabbit.ctl('set_vm_memory_high_watermark', '0');
  try {
    await write(user, 'meets the alarm');
    await waitFor('the API to see its connection blocked', () =>
      product.api!.output().includes('amqp connection blocked by the broker'),
    );
    const last = await product.count('SELECT MAX(id) FROM outbox');
    for (let i = 0; i < 10; i++) await write(user, `during the alarm ${i}`);
    // The publish that met the alarm waits out its confirm timeout and stays unsent (published
    // rows are deleted, so a row with a failed attempt is that one); after it the relay opens no
    // batch while the connection is blocked (no row locked, none attempted).
    await waitFor(
      'the first publish into the alarm to time out',
      async () => (await product.count("SELECT COUNT(*) FROM outbox WHERE kind = 'job' AND publish_attempts > 0")) > 0,
      30_000,
    );
    await sleep(2000); // ten polls of the relay
    const locked = await product.count(
      `SELECT COUNT(*) FROM information_schema.innodb_trx t JOIN information_schema.processlist p
       ON p.id = t.trx_mysql_thread_id WHERE p.db = DATABASE() AND t.trx_rows_locked > 0`,
    );
    assert.equal(locked, 0, 'no relay batch holds rows while the connection is blocked');
    const during = await product.query<{ attempts: number; sent: Date | null }>(
      "SELECT publish_attempts AS attempts, sent_at AS sent FROM outbox WHERE kind = 'job' AND id > ?",
      [last],
    );
    assert.equal(during.length, 10);
    assert.ok(
      during.every((r) => r.sent === null && Number(r.attempts) === 0),
      `rows written while blocked are left alone: ${JSON.stringify(during)}`,
    );
  } finally {
    await rabbit.ctl('set_vm_memory_high_watermark', '0.4');
  }

  await waitFor('every job published', async () => (await unsentJobs()) === 0, 60_000);
  const depth = await rabbit.depths([QUEUES.work]);
  // 12 jobs; the publish that met the alarm may be there twice (it went again after its confirm
  // timed out), which consumers absorb by message id.
  assert.ok((depth[QUEUES.work]?.messages ?? 0) >= 12, JSON.stringify(depth));
});
