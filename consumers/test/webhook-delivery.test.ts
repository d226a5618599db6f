import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Webhook } from 'standardwebhooks';
import { noteProcessedPayload, WebhookDeliverer, WebhookDeliveryError } from '../src/webhook-delivery.ts';

/**
 * Deliveries to a real HTTP receiver on loopback (so private networks are allowed here; the
 * refusal path is covered beside the code). The receiver's behaviour is switched per test.
 */
type Received = { headers: http.IncomingHttpHeaders; body: string; path: string };
let mode: 'ok' | 'fail' | 'hang' | 'redirect' = 'ok';
const received: Received[] = [];
const hanging = new Set<http.ServerResponse>();
let server: http.Server;
let base: string;

const secret = `whsec_${Buffer.from('a-test-secret-of-at-least-24-bytes!').toString('base64')}`;
const config = { webhook: { timeoutMs: 2000, allowPrivateNetworks: true } };

before(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ headers: req.headers, body, path: req.url ?? '' });
      if (mode === 'ok') res.writeHead(204).end();
      else if (mode === 'fail') res.writeHead(503).end('down');
      else if (mode === 'redirect') res.writeHead(307, { location: `${base}/elsewhere` }).end();
      else hanging.add(res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  for (const res of hanging) res.destroy();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const target = (id: string, path = '/hook') => ({ id, url: `${base}${path}`, secret });

test('a delivery is signed per Standard Webhooks and verifies with the standardwebhooks library', async () => {
  mode = 'ok';
  received.length = 0;
  const deliverer = new WebhookDeliverer();
  try {
    const note = { id: 'n1', title: 'Hello', result: { word_count: 2 } };
    const res = await deliverer.deliver({
      webhook: target('w-sign'),
      messageId: 'job-123',
      payload: noteProcessedPayload(note),
      config,
    });
    assert.equal(res.status, 204);
    assert.equal(received.length, 1);
    const [r] = received;
    assert.equal(r!.path, '/hook');
    assert.equal(r!.headers['content-type'], 'application/json');
    assert.equal(r!.headers['webhook-id'], 'job-123');
    assert.match(String(r!.headers['webhook-timestamp']), /^\d{10}$/);
    assert.match(String(r!.headers['webhook-signature']), /^v1,[A-Za-z0-9+/]+=*$/);
    const verified = new Webhook(secret).verify(r!.body, r!.headers as Record<string, string>) as {
      type: string;
      data: unknown;
      timestamp: string;
    };
    assert.equal(verified.type, 'note.processed');
    assert.deepEqual(verified.data, note);
    assert.ok(!Number.isNaN(Date.parse(verified.timestamp)));
    // Any other secret must not verify: the check above can fail.
    const other = `whsec_${Buffer.from('another-secret-entirely-24+bytes').toString('base64')}`;
    assert.throws(() => new Webhook(other).verify(r!.body, r!.headers as Record<string, string>));
  } finally {
    deliverer.shutdown();
  }
});

test('a non-2xx answer is a retryable failure, and the retry carries the same webhook-id', async () => {
  received.length = 0;
  const deliverer = new WebhookDeliverer();
  const args = { webhook: target('w-retry'), messageId: 'job-retry', payload: noteProcessedPayload({}), config };
  try {
    mode = 'fail';
    await assert.rejects(deliverer.deliver(args), (err: unknown) => {
      assert.ok(err instanceof WebhookDeliveryError);
      assert.equal(err.retryable, true);
      assert.equal(err.details.status, 503);
      return true;
    });
    mode = 'ok';
    await deliverer.deliver(args);
    assert.equal(received.length, 2);
    assert.equal(received[0]!.headers['webhook-id'], 'job-retry');
    assert.equal(received[1]!.headers['webhook-id'], 'job-retry');
  } finally {
    deliverer.shutdown();
  }
});

test('redirects are not followed', async () => {
  mode = 'redirect';
  received.length = 0;
  const deliverer = new WebhookDeliverer();
  try {
    await assert.rejects(
      deliverer.deliver({ webhook: target('w-redir'), messageId: 'j', payload: noteProcessedPayload({}), config }),
      { retryable: true, message: /307/ },
    );
    assert.deepEqual(
      received.map((r) => r.path),
      ['/hook'],
    );
  } finally {
    deliverer.shutdown();
  }
});

test('no answer within WEBHOOK_TIMEOUT_MS is a retryable timeout', async () => {
  mode = 'hang';
  const deliverer = new WebhookDeliverer();
  try {
    await assert.rejects(
      deliverer.deliver({
        webhook: target('w-timeout'),
        messageId: 'j',
        payload: noteProcessedPayload({}),
        config: { webhook: { timeoutMs: 300, allowPrivateNetworks: true } },
      }),
      (err: unknown) => {
        assert.ok(err instanceof WebhookDeliveryError);
        assert.equal(err.retryable, true);
        assert.equal(err.details.code, 'timeout');
        return true;
      },
    );
  } finally {
    deliverer.shutdown();
  }
});

test('an aborted delivery (consumer shutdown) rejects at once as retryable', async () => {
  mode = 'hang';
  const deliverer = new WebhookDeliverer();
  const controller = new AbortController();
  try {
    const pending = deliverer.deliver({
      webhook: target('w-abort'),
      messageId: 'j',
      payload: noteProcessedPayload({}),
      config: { webhook: { timeoutMs: 60_000, allowPrivateNetworks: true } },
      signal: controller.signal,
    });
    await sleep(50);
    controller.abort();
    await assert.rejects(pending, { retryable: true, details: { code: 'aborted' } });
  } finally {
    deliverer.shutdown();
  }
});

test('the breaker opens after repeated failures, fails fast without a request, then closes by itself', async () => {
  const deliverer = new WebhookDeliverer({ volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeoutMs: 400 });
  const args = { webhook: target('w-breaker'), messageId: 'j', payload: noteProcessedPayload({}), config };
  try {
    mode = 'fail';
    received.length = 0;
    for (let i = 0; i < 3; i++) {
      await assert.rejects(deliverer.deliver(args), (err: WebhookDeliveryError) => err.details.status === 503);
    }
    assert.equal(deliverer.breakerState('w-breaker'), 'open');
    assert.equal(received.length, 3);

    // Open: skipped fast, a retryable error, and the endpoint is not called.
    await assert.rejects(deliverer.deliver(args), (err: unknown) => {
      assert.ok(err instanceof WebhookDeliveryError);
      assert.equal(err.retryable, true);
      assert.equal(err.details.code, 'circuit-open');
      return true;
    });
    assert.equal(received.length, 3);
    // Another endpoint is unaffected.
    mode = 'ok';
    await deliverer.deliver({ ...args, webhook: target('w-other') });
    assert.equal(received.length, 4);

    // After the reset timeout one trial goes through; success closes the breaker.
    for (let i = 0; i < 100 && deliverer.breakerState('w-breaker') !== 'half-open'; i++) await sleep(20);
    assert.equal(deliverer.breakerState('w-breaker'), 'half-open');
    await deliverer.deliver(args);
    assert.equal(deliverer.breakerState('w-breaker'), 'closed');
    assert.equal(received.length, 5);
  } finally {
    deliverer.shutdown();
  }
});
