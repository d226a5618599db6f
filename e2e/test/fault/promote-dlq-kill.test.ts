import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { QUEUES } from '@notes/contracts';
import { waitFor } from '@notes/contracts/testing';
import { openChannel } from '../../src/broker.ts';
import { onExit } from '../../src/cleanup.ts';
import { registerUsers } from '../../src/http.ts';
import { checkPipeline } from '../../src/invariants.ts';
import { type Product, startProduct } from '../../src/product.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../../src/webhook-receiver.ts';
import { acceptedMore, startWriteLoad } from '../../src/write-load.ts';

/**
 * promote-dlq end to end: webhook deliveries die against a failing endpoint (the API drains
 * notes.dlq into the failure inbox, docs/jobs.md), the endpoint heals, the operator's command is
 * killed -9 midway through moving them back, and run again. Every dead job ends processed exactly
 * once: one recorded completion, one successful delivery per webhook-id.
 *
 * Killed between its pages of 100: a page marked and published but not settled is promoted again
 * by the rerun in a newer run; the older copies find their run stale and do nothing.
 */
const SCRIPTS_DIR = fileURLToPath(new URL('../../../scripts/', import.meta.url));
const DEAD = 250;

let product: Product;
let receiver: WebhookReceiver;
const children: ChildProcess[] = [];

before(async () => {
  receiver = await startWebhookReceiver();
  product = await startProduct('e2epromote', { env: { CONSUMER_PREFETCH: '16' } });
  await product.startApi();
});

after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await product?.close();
  await receiver?.close();
});

function promote(args: string[] = []) {
  let out = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'promote-dlq.ts', ...args], {
    cwd: SCRIPTS_DIR,
    env: { ...process.env, ...product.env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  onExit(() => child.kill('SIGKILL'));
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  return Object.assign(child, { output: () => out });
}

test('promote-dlq killed -9 midway, then run again: every dead job is processed exactly once', async (t) => {
  const users = await registerUsers(product.apiUrl, 2, 'dlq', receiver.url);
  receiver.failStatus = 500;
  const first = await product.startConsumer();
  const load = startWriteLoad({ apiUrl: product.apiUrl, users, label: 'dlq', concurrency: 4, maxWrites: DEAD });
  await acceptedMore(load, DEAD);
  const written = await load.stop();
  assert.equal(written.accepted.size, DEAD);
  const userIds = users.map((u) => u.id);
  const dead = () =>
    product.count(
      `SELECT COUNT(*) FROM jobs WHERE user_id IN (?, ?) AND kind = 'webhook.deliver' AND status = 'dead'`,
      userIds,
    );
  await waitFor(`${DEAD} dead deliveries`, async () => (await dead()) === DEAD, 120_000, 250);

  const letters = () => product.count('SELECT COUNT(*) FROM dead_letters WHERE user_id IN (?, ?)', userIds);
  const { ch, close } = await openChannel(product.ns.amqpUrl);
  try {
    await waitFor('all in the failure inbox', async () => (await letters()) === DEAD, 60_000, 100);
    assert.equal((await ch.checkQueue(QUEUES.dead)).messageCount, 0, 'notes.dlq is only the transport');
    receiver.failStatus = null;
    await first.terminate();
    await product.startConsumer({ CONSUMER_PREFETCH: '1' });

    // Killed once its first page has moved, well before the end.
    const killed = promote();
    let left = DEAD;
    while (left === DEAD && killed.exitCode === null) {
      left = await letters();
      await sleep(5);
    }
    killed.kill('SIGKILL');
    await once(killed, 'exit').catch(() => {});
    const afterKill = await letters();
    assert.ok(afterKill > 0 && afterKill < DEAD, `killed midway (${afterKill} of ${DEAD} left in the inbox)`);

    const rerun = promote();
    const [code] = (await once(rerun, 'exit')) as [number | null];
    assert.equal(code, 0, rerun.output());
    const summary = /summary: examined=(\d+) promoted=(\d+) skipped=(\d+) malformed=(\d+) failed=(\d+)/.exec(
      rerun.output(),
    );
    assert.ok(summary, rerun.output());
    assert.equal(Number(summary[5]), 0, 'nothing failed');
    // What the killed run had already published is finished by those copies' start callbacks
    // (docs/jobs.md), so the rerun may find fewer letters than the kill left; together they
    // empty the inbox.
    assert.ok(Number(summary[2]) > 0, `the rerun moved what was left (${summary[0]})`);
    await waitFor('the failure inbox to be empty', async () => (await letters()) === 0, 60_000);
    t.diagnostic(`killed with ${afterKill} left; rerun ${summary[0]}`);
  } finally {
    await close();
  }

  const result = await checkPipeline({ product, amqpUrl: product.ns.amqpUrl, userIds, load: written, receiver });
  assert.equal(await dead(), 0, 'no job left dead');
  t.diagnostic(JSON.stringify(result));
});
