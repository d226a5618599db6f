import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { deliverWebhook, noteProcessedPayload, WebhookDeliverer, WebhookDeliveryError } from './webhook-delivery.ts';

const refuseConfig = { webhook: { timeoutMs: 1000, allowPrivateNetworks: false } };
const secret = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;

test('the payload is {type, timestamp, data}', () => {
  const now = new Date('2026-01-02T03:04:05.678Z');
  assert.deepEqual(noteProcessedPayload({ id: 'n1' }, now), {
    type: 'note.processed',
    timestamp: '2026-01-02T03:04:05.678Z',
    data: { id: 'n1' },
  });
});

test('the standardwebhooks signature is the spec HMAC over id.timestamp.body with the decoded key', () => {
  const body = '{"a":1}';
  const at = new Date(1_700_000_000_000);
  const sig = new Webhook(secret).sign('msg_1', at, body);
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(`msg_1.1700000000.${body}`).digest('base64');
  assert.equal(sig, `v1,${expected}`);
});

test('a private or loopback target is refused before any request, and not retryable', async () => {
  for (const url of ['http://127.0.0.1:1/', 'http://localhost:1/', 'http://[::1]:1/', 'http://0x7f000001:1/']) {
    await assert.rejects(
      deliverWebhook({
        webhook: { id: 'w1', url, secret },
        messageId: 'job-1',
        payload: noteProcessedPayload({}),
        config: refuseConfig,
      }),
      (err: unknown) => {
        assert.ok(err instanceof WebhookDeliveryError, url);
        assert.equal(err.retryable, false, url);
        assert.match(err.message, /refused/);
        return true;
      },
    );
  }
});

test('refusals do not count against the endpoint breaker', async () => {
  const deliverer = new WebhookDeliverer({ volumeThreshold: 1, resetTimeoutMs: 60_000 });
  try {
    for (let i = 0; i < 3; i++) {
      await assert.rejects(
        deliverer.deliver({
          webhook: { id: 'w2', url: 'http://10.0.0.1/', secret },
          messageId: `job-${i}`,
          payload: noteProcessedPayload({}),
          config: refuseConfig,
        }),
        { retryable: false },
      );
    }
    assert.notEqual(deliverer.breakerState('w2'), 'open');
  } finally {
    deliverer.shutdown();
  }
});
