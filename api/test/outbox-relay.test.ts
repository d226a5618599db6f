import assert from 'node:assert/strict';
import net from 'node:net';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { QUEUES } from '@notes/contracts';
import { queueInfo, startFaultProxy, waitFor } from '@notes/contracts/testing';
import { buildApp } from '../src/app.ts';
import { startTestApp, type TestApp } from './helpers.ts';
import { call, newUser } from './notes-fixtures.ts';
import { unsent, writeNotes } from './relay-fixtures.ts';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

test('committed outbox rows are published with confirms and deleted', async () => {
  const t = await startTestApp('relay');
  cleanups.push(() => t.close());
  await writeNotes(t, 25);
  await waitFor('25 messages in notes.jobs', async () => (await queueInfo(t.ns.vhost, QUEUES.work)).messages === 25);
  await waitFor('no unsent rows', async () => (await unsent(t)) === 0);
  // Published once each: nothing more arrives.
  await sleep(500);
  assert.equal((await queueInfo(t.ns.vhost, QUEUES.work)).messages, 25);
  const [rows] = await t.deps.database.pool.query('SELECT COUNT(*) AS n FROM outbox');
  assert.equal(Number((rows as { n: number }[])[0]?.n), 0, 'a published row is deleted, not kept as sent');
});

test('while RabbitMQ is unreachable rows wait in the outbox; once it is back every one is published', async () => {
  const proxy = await startFaultProxy(5672);
  cleanups.push(() => proxy.close());
  const probe = await startTestApp('relaydown');
  cleanups.push(() => probe.close());
  // A second app in the same namespace, reaching RabbitMQ only through the proxy.
  const amqpUrl = probe.ns.amqpUrl.replace('127.0.0.1:5672', `127.0.0.1:${proxy.port}`);
  const { createDeps } = await import('../src/wiring.ts');
  await probe.deps.outbox.stop(); // only the proxied relay may publish in this test
  const deps = await createDeps(probe.ns.config({ AMQP_URL: amqpUrl }));
  cleanups.push(() => deps.close());
  await deps.amqp.waitConnected(5000);

  proxy.cut();
  await waitFor('the relay to notice the outage', async () => !deps.amqp.connected);
  await writeNotes({ ...probe, deps } as TestApp, 30);
  await sleep(1000);
  assert.equal(await unsent({ ...probe, deps } as TestApp), 30, 'nothing is marked sent while the broker is away');
  assert.equal((await queueInfo(probe.ns.vhost, QUEUES.work)).messages, 0);

  proxy.restore();
  await waitFor(
    'all 30 in notes.jobs',
    async () => (await queueInfo(probe.ns.vhost, QUEUES.work)).messages === 30,
    30_000,
  );
  await waitFor('no unsent rows', async () => (await unsent({ ...probe, deps } as TestApp)) === 0);
});

/**
 * A TCP proxy that can stop passing bytes without closing anything: a broker that has gone quiet,
 * so the relay's publishes wait for confirms (and its batch stays open) for as long as it is paused.
 */
async function startPausableProxy(targetPort: number) {
  let paused = false;
  const held: (() => void)[] = [];
  const sockets = new Set<net.Socket>();
  const relay = (from: net.Socket, to: net.Socket) =>
    from.on('data', (chunk) => {
      if (paused) held.push(() => to.write(chunk));
      else to.write(chunk);
    });
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    relay(client, upstream);
    relay(upstream, client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    pause: () => {
      paused = true;
    },
    resume: () => {
      paused = false;
      for (const f of held.splice(0)) f();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

test('a relay batch waiting for confirms never holds up new writes (no gap lock on the outbox)', async () => {
  const proxy = await startPausableProxy(5672);
  cleanups.push(() => proxy.close());
  const probe = await startTestApp('relaygap');
  cleanups.push(() => probe.close());
  await probe.deps.outbox.stop(); // only the app behind the proxy relays in this test
  const { createDeps } = await import('../src/wiring.ts');
  const deps = await createDeps(
    probe.ns.config({ AMQP_URL: probe.ns.amqpUrl.replace('127.0.0.1:5672', `127.0.0.1:${proxy.port}`) }),
  );
  cleanups.push(() => deps.close());
  await deps.amqp.waitConnected(5000);
  const app = await buildApp(deps);
  cleanups.push(() => app.close());
  const t = { ...probe, app, deps } as TestApp;
  const user = await newUser(t, 'gap');
  // The relay has published the topology; from now on the broker "hangs".
  await waitFor('the relay channel', async () => deps.outbox.stats.published === 0 && deps.amqp.connected);
  await sleep(300);

  proxy.pause();
  const first = await call(t, user, 'POST', '/api/notes', { title: 'held by the relay' });
  assert.equal(first.statusCode, 201);
  // The relay locks that row and waits for a confirm that cannot come.
  await waitFor('the relay batch to be open', async () => {
    const [rows] = await deps.database.pool.query(
      "SELECT COUNT(*) AS n FROM information_schema.innodb_trx WHERE trx_query LIKE '%SKIP LOCKED%' OR trx_rows_locked > 0",
    );
    return Number((rows as { n: number }[])[0]?.n) > 0;
  });
  assert.equal(await unsent(t), 1);
  // Writes go on meanwhile. (Before the relay read with READ COMMITTED, this insert waited for the
  // relay's transaction: the confirm timeout, or the lock wait timeout.)
  const during = await Promise.race([
    call(t, user, 'POST', '/api/notes', { title: 'written during the batch' }),
    sleep(5000).then(() => null),
  ]);
  assert.equal(during?.statusCode, 201, 'the write waited for the relay');
  assert.ok(deps.outbox.stats.published === 0, 'the relay batch was still open');

  proxy.resume();
  await waitFor('both published', async () => (await unsent(t)) === 0, 30_000);
});
