import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { type App, buildApp } from '../src/app.ts';
import { createDeps } from '../src/wiring.ts';
import { seedUserRow } from './db-fixtures.ts';
import { startTestApp, type TestApp } from './helpers.ts';

type SseEvent = { id?: string; event?: string; data?: unknown };

interface Stream {
  status: number;
  headers: http.IncomingHttpHeaders;
  events: SseEvent[];
  /** Resolves once `n` events have arrived (fails the test after a while). */
  waitFor(n: number): Promise<SseEvent[]>;
  ended: Promise<void>;
  close(): void;
}

/** A minimal SSE client over node:http (EventSource's wire format). */
function openStream(
  base: string,
  opts: { token?: string; query?: Record<string, string>; lastEventId?: string },
): Promise<Stream> {
  const url = new URL('/api/events', base);
  for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.lastEventId) headers['last-event-id'] = opts.lastEventId;
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      const events: SseEvent[] = [];
      let buffer = '';
      const waiters: (() => void)[] = [];
      const ended = new Promise<void>((r) => res.on('close', () => r()));
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let at = buffer.indexOf('\n\n');
        while (at >= 0) {
          const block = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          const ev: SseEvent = {};
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) ev.id = line.slice(4);
            else if (line.startsWith('event: ')) ev.event = line.slice(7);
            else if (line.startsWith('data: ')) ev.data = JSON.parse(line.slice(6));
          }
          if (ev.event) events.push(ev);
          at = buffer.indexOf('\n\n');
        }
        for (const w of waiters.splice(0)) w();
      });
      res.on('error', () => {});
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        ended,
        async waitFor(n) {
          const deadline = Date.now() + 5000;
          while (events.length < n) {
            if (Date.now() > deadline) throw new Error(`only ${events.length} of ${n} events arrived`);
            await Promise.race([new Promise<void>((r) => waiters.push(r)), sleep(100)]);
          }
          return events;
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
  });
}

let t: TestApp;
let base: string;
let alice: { id: string; token: string };
let bob: { id: string; token: string };
let probe: Redis;

function makeUser(name: string) {
  return seedUserRow(t, name);
}

/** Server-side SSE Redis connections of this namespace. */
async function sseConnections(): Promise<number> {
  const list = await probe.client('LIST');
  const name = `notes-sse-${t.ns.redisKeyPrefix}`;
  return String(list)
    .split('\n')
    .filter((l) => l.includes(` name=${name} `)).length;
}

async function eventually(fn: () => Promise<boolean>, what: string) {
  for (let i = 0; i < 100; i++) {
    if (await fn()) return;
    await sleep(30);
  }
  assert.fail(`never happened: ${what}`);
}

before(async () => {
  t = await startTestApp('events');
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  alice = await makeUser('alice');
  bob = await makeUser('bob');
  probe = new Redis(t.ns.redisUrl);
});
after(async () => {
  probe?.disconnect();
  await t?.close();
});

test('each user sees only their own events, by header or access_token query', async () => {
  const a = await openStream(base, { token: alice.token });
  const b = await openStream(base, { query: { access_token: bob.token } });
  try {
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    // A stream writes its own head: it still carries the security headers (docs/security.md).
    assert.match(String(a.headers['content-security-policy']), /^default-src 'self';/);
    assert.equal(a.headers['x-frame-options'], 'DENY');
    await t.deps.events.publish(alice.id, 'note.created', { id: 'a1', title: 'A' });
    await t.deps.events.publish(bob.id, 'note.created', { id: 'b1', title: 'B' });
    await t.deps.events.publish(alice.id, 'note.deleted', { id: 'a1' });
    const got = await a.waitFor(2);
    assert.deepEqual(
      got.map((e) => [e.event, e.data]),
      [
        ['note.created', { id: 'a1', title: 'A' }],
        ['note.deleted', { id: 'a1' }],
      ],
    );
    assert.match(got[0]!.id!, /^\d+-\d+$/);
    await b.waitFor(1);
    await sleep(100);
    assert.deepEqual(
      b.events.map((e) => [e.event, e.data]),
      [['note.created', { id: 'b1', title: 'B' }]],
    );
  } finally {
    a.close();
    b.close();
  }
});

test('reconnecting with Last-Event-ID gets what happened meanwhile, with no gap and no repeat', async () => {
  const first = await openStream(base, { token: alice.token });
  await t.deps.events.publish(alice.id, 'note.created', { id: 'r1' });
  const [seen] = await first.waitFor(1);
  first.close();
  await first.ended;

  for (const id of ['r2', 'r3', 'r4']) await t.deps.events.publish(alice.id, 'note.updated', { id });
  const again = await openStream(base, { token: alice.token, lastEventId: seen!.id! });
  try {
    await again.waitFor(3);
    assert.deepEqual(
      again.events.map((e) => (e.data as { id: string }).id),
      ['r2', 'r3', 'r4'],
    );
  } finally {
    again.close();
  }
  // The query form works too (EventSource polyfills that can't set headers).
  const viaQuery = await openStream(base, { token: alice.token, query: { lastEventId: seen!.id! } });
  try {
    assert.equal((await viaQuery.waitFor(3)).length, 3);
  } finally {
    viaQuery.close();
  }
});

test('a Last-Event-ID past the stream’s last id (a time-based one of the earlier format) resumes from the oldest kept', async () => {
  const carol = await makeUser('carol');
  await t.deps.events.publishOrThrow(carol.id, [{ type: 'note.created', json: '{"id":"c1"}', id: 7 }]);
  await t.deps.events.publishOrThrow(carol.id, [{ type: 'note.updated', json: '{"id":"c1"}', id: 9 }]);
  const s = await openStream(base, { token: carol.token, lastEventId: '1796597615978-0' });
  try {
    const got = await s.waitFor(2);
    assert.deepEqual(
      got.map((e) => [e.id, e.event]),
      [
        ['7-0', 'note.created'],
        ['9-0', 'note.updated'],
      ],
    );
  } finally {
    s.close();
  }
  // An id the stream did send resumes after it, as ever.
  const again = await openStream(base, { token: carol.token, lastEventId: '7-0' });
  try {
    assert.deepEqual(
      (await again.waitFor(1)).map((e) => e.id),
      ['9-0'],
    );
  } finally {
    again.close();
  }
});

test('without Last-Event-ID a stream starts at now; resuming works on another API instance', async () => {
  const fresh = await openStream(base, { token: alice.token });
  await t.deps.events.publish(alice.id, 'note.processed', { id: 'n-now' });
  const [first] = await fresh.waitFor(1);
  fresh.close();
  assert.deepEqual(first!.data, { id: 'n-now' }, 'older events are not replayed');

  // A second instance of the API on the same Redis.
  const deps2 = await createDeps(t.deps.config);
  let app2: App | undefined;
  try {
    app2 = await buildApp(deps2);
    await app2.listen({ host: '127.0.0.1', port: 0 });
    const base2 = `http://127.0.0.1:${(app2.server.address() as AddressInfo).port}`;
    await t.deps.events.publish(alice.id, 'note.dead', { id: 'n-later' });
    const s = await openStream(base2, { token: alice.token, lastEventId: first!.id! });
    try {
      const [ev] = await s.waitFor(1);
      assert.deepEqual([ev!.event, ev!.data], ['note.dead', { id: 'n-later' }]);
    } finally {
      s.close();
    }
  } finally {
    await app2?.close();
    await deps2.close();
  }
});

test('no or bad token is a 401, a malformed Last-Event-ID a 400, too many streams a 429', async () => {
  const none = await openStream(base, {});
  assert.equal(none.status, 401);
  const bad = await openStream(base, { query: { access_token: `${alice.token}x` } });
  assert.equal(bad.status, 401);
  // A malformed token is a bad token like any other: 401, not a 400 about the query string.
  for (const token of ['a.b.c\r\nx', 'not-a-jwt', 'a b', '%%%', '...', 'x'.repeat(5000)]) {
    const garbage = await openStream(base, { query: { access_token: token } });
    assert.equal(garbage.status, 401, JSON.stringify(token.slice(0, 20)));
  }
  const badId = await openStream(base, { token: alice.token, lastEventId: '../../etc' });
  assert.equal(badId.status, 400);
  // Digits past a stream id's two 64-bit parts are no id Redis could have given: refused, not
  // taken for an id past the stream's end (which would resume from the oldest event kept).
  for (const lastEventId of ['18446744073709551616-0', '1-18446744073709551616', '99999999999999999999-1']) {
    const tooLarge = await openStream(base, { token: alice.token, lastEventId });
    assert.equal(tooLarge.status, 400, lastEventId);
  }
  const largest = await openStream(base, {
    token: alice.token,
    lastEventId: '18446744073709551615-18446744073709551615',
  });
  assert.equal(largest.status, 200);
  largest.close();

  const open: Stream[] = [];
  try {
    for (let i = 0; i < t.deps.config.limits.sseMaxStreamsPerUser; i++)
      open.push(await openStream(base, { token: bob.token }));
    assert.ok(open.every((s) => s.status === 200));
    const extra = await openStream(base, { token: bob.token });
    assert.equal(extra.status, 429);
  } finally {
    for (const s of open) s.close();
  }
});

test('a client disconnect and the app closing both release the Redis connection', async () => {
  await eventually(async () => (await sseConnections()) === 0, 'earlier streams released');
  const s = await openStream(base, { token: alice.token });
  await eventually(async () => (await sseConnections()) === 1, 'one stream connection');
  s.close();
  await eventually(async () => (await sseConnections()) === 0, 'released after the client left');

  // App close ends open streams instead of hanging on them.
  const deps2 = await createDeps(t.deps.config);
  const app2 = await buildApp(deps2);
  try {
    await app2.listen({ host: '127.0.0.1', port: 0 });
    const s2 = await openStream(`http://127.0.0.1:${(app2.server.address() as AddressInfo).port}`, {
      token: alice.token,
    });
    await eventually(async () => (await sseConnections()) === 1, 'stream on the second app');
    await app2.close();
    await s2.ended;
    await eventually(async () => (await sseConnections()) === 0, 'released when the app closed');
  } finally {
    await app2.close();
    await deps2.close();
  }
});

test("a note written through the API reaches its owner's stream only", async () => {
  const a = await openStream(base, { token: alice.token });
  const b = await openStream(base, { token: bob.token });
  try {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/notes',
      headers: { authorization: `Bearer ${alice.token}` },
      payload: { title: 'Live', body: 'hello #sse' },
    });
    assert.equal(res.statusCode, 201, res.body);
    const [ev] = await a.waitFor(1);
    assert.equal(ev!.event, 'note.created');
    assert.equal((ev!.data as { id: string }).id, res.json().id);
    await sleep(200);
    assert.deepEqual(b.events, []);
  } finally {
    a.close();
    b.close();
  }
});
