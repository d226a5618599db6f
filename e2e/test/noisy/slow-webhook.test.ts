import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBystander } from '../../src/bystander.ts';
import { addWebhook, registerUser, request } from '../../src/http.ts';
import { assertBystanderUnharmed } from '../../src/noisy.ts';
import { type Product, startProduct } from '../../src/product.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../../src/webhook-receiver.ts';

/**
 * A slow third party (docs/isolation.md): one user's webhook answers after 8 s and that user
 * writes 200 notes, while a bystander (without a webhook) writes ordinary notes. Deliveries run
 * in their own lane, at most WEBHOOK_MAX_IN_FLIGHT at the endpoint, so note processing keeps its
 * capacity and the bystander's notes are processed within about a second.
 */
let product: Product;
let receiver: WebhookReceiver;
before(async () => {
  receiver = await startWebhookReceiver({ delayMs: 8000 });
  product = await startProduct('noisyslowhook');
  await product.startApi();
  await product.startConsumer();
});
after(async () => {
  await product?.close();
  await receiver?.close();
});

test('a webhook answering after 8 s does not slow a bystander', async (t) => {
  const noisy = await registerUser(product.apiUrl, 'slowhook');
  await addWebhook(product.apiUrl, noisy, receiver.url);
  const bystander = await startBystander(product.apiUrl, await registerUser(product.apiUrl, 'bystander'));
  let maxAtEndpoint = 0;
  const watching = setInterval(() => {
    maxAtEndpoint = Math.max(maxAtEndpoint, receiver.inFlight);
  }, 50);
  try {
    for (let i = 0; i < 200; i++) {
      const res = await request(product.apiUrl, 'POST', '/api/notes', {
        token: noisy.token,
        body: { title: `hooked ${i}`, body: `note ${i} #slow` },
      });
      assert.equal(res.status, 201, res.text);
    }
    await sleep(20_000); // deliveries pile up behind the 8 s endpoint while the bystander writes
  } finally {
    clearInterval(watching);
  }
  const report = await bystander.stop();
  t.diagnostic(
    `deliveries answered so far: ${receiver.deliveries.length}; most at the endpoint at once: ${maxAtEndpoint}`,
  );
  assertBystanderUnharmed(t, report);
  assert.ok(maxAtEndpoint <= 8, `at most WEBHOOK_MAX_IN_FLIGHT (8) at the endpoint, saw ${maxAtEndpoint}`);
});
