import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBystander } from '../../src/bystander.ts';
import { registerUser, request } from '../../src/http.ts';
import { assertBystanderUnharmed, craftedBody } from '../../src/noisy.ts';
import { type Product, startProduct } from '../../src/product.ts';

/**
 * Crafted bodies (docs/isolation.md): one user writes 20 notes at priority max, each a link then
 * ~64 KiB of punctuation, while a bystander writes ordinary notes. With the old backtracking trim
 * each such note blocked the consumer for seconds and the bystander waited ~23 s; now the
 * analysis is linear and the bystander's notes are processed within about a second.
 */
let product: Product;
before(async () => {
  product = await startProduct('noisycrafted');
  await product.startApi();
  await product.startConsumer();
});
after(() => product?.close());

test('crafted bodies at priority max do not slow a bystander', async (t) => {
  const noisy = await registerUser(product.apiUrl, 'crafted');
  const bystander = await startBystander(product.apiUrl, await registerUser(product.apiUrl, 'bystander'));
  await sleep(1000); // the bystander's pace before the crafted notes arrive
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) {
    const res = await request(product.apiUrl, 'POST', '/api/notes', {
      token: noisy.token,
      body: { title: `crafted ${i}`, body: craftedBody(i), priority: 'max' },
    });
    assert.equal(res.status, 201, res.text);
    ids.push((res.json as { id: string }).id);
  }
  await sleep(2000); // the bystander keeps writing while they are analysed
  const report = await bystander.stop();
  assertBystanderUnharmed(t, report);
  const left = await product.count("SELECT COUNT(*) FROM notes WHERE user_id = ? AND status <> 'processed'", [
    noisy.id,
  ]);
  t.diagnostic(`crafted notes not yet processed when the bystander stopped: ${left}`);
});
