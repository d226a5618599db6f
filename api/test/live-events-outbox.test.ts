import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { signServiceToken } from '@notes/contracts';
import { waitFor } from '@notes/contracts/testing';
import { buildApp } from '../src/app.ts';
import { eventPayload } from '../src/modules/events/event-rows.ts';
import { type EventPublisher, eventStreamKey } from '../src/modules/events/events.ts';
import { createDeps } from '../src/wiring.ts';
import { LiveEventRelay } from '../src/workers/live-event-relay.ts';
import { startTestApp, type TestApp } from './helpers.ts';
import { call, count, createNote, newUser, query, type TestUser, untilLiveEventsPublished } from './notes-fixtures.ts';

/**
 * A live event is never lost when the API dies between a write's commit and the event's
 * publication (docs/isolation.md): the event is an outbox row of the write's own transaction,
 * and whichever API instance's relay runs next publishes it.
 *
 * The API "dies at that point": its live-event relay is stopped before the writes, so they commit
 * (note, job, event row) and nothing publishes their events; then the instance is closed and
 * another one, on the same database and Redis, starts.
 */

let t: TestApp;
let alice: TestUser;

before(async () => {
  t = await startTestApp('evoutbox');
  alice = await newUser(t, 'alice');
});
after(() => t?.close());

/** A relay of its own over the test app's database (its own relay is stopped by the tests that use this). */
function relayOf(events: EventPublisher): LiveEventRelay {
  return new LiveEventRelay({
    config: t.deps.config,
    database: t.deps.database,
    events,
    logger: t.deps.logger,
    noteCache: t.deps.noteCache,
  });
}

async function streamTypes(userId: string): Promise<{ type: string; id: string }[]> {
  const entries = await t.deps.redis.xrange(eventStreamKey(userId), '-', '+');
  return entries.map(([, f]) => ({ type: f[1] ?? '', id: JSON.parse(f[3] ?? '{}').id }));
}

test('events committed by an API that died before publishing them are published by the next one', async () => {
  // A first instance takes writes and dies before its relay publishes anything.
  const dying = await createDeps(t.deps.config);
  const dyingApp = await buildApp(dying);
  const pending = 'SELECT COUNT(*) AS n FROM live_events';
  let noteId = '';
  let bigId = '';
  let goneId = '';
  let seen: string[] = [];
  let closed = false;
  const closeDying = async () => {
    if (closed) return;
    closed = true;
    await dyingApp.close();
    await dying.close();
  };
  try {
    await t.deps.liveEvents.stop(); // the test app's own relay must not publish them either
    await dying.liveEvents.stop();
    const auth = (u: TestUser) => ({ authorization: `Bearer ${u.token}` });
    const created = await dyingApp.inject({
      method: 'POST',
      url: '/api/notes',
      headers: auth(alice),
      payload: { title: 'committed, not yet published' },
    });
    assert.equal(created.statusCode, 201, created.body);
    noteId = created.json().id as string;

    const big = await dyingApp.inject({
      method: 'POST',
      url: '/api/notes',
      headers: auth(alice),
      // Its event, like every event carrying a note, goes by reference, read at publication.
      payload: { title: 'big', body: '"'.repeat(40_000) },
    });
    assert.equal(big.statusCode, 201, big.body);
    bigId = big.json().id;
    const gone = await createNote(t, alice, { title: 'deleted before publication' });
    goneId = gone.id;
    const deleted = await dyingApp.inject({ method: 'DELETE', url: `/api/notes/${gone.id}`, headers: auth(alice) });
    assert.equal(deleted.statusCode, 204);
    // A consumer's callback: the note is processed, its event committed with the outcome.
    const [job] = await t.deps.database.pool
      .query('SELECT id FROM jobs WHERE note_id = ?', [noteId])
      .then(([rows]) => rows as { id: string }[]);
    const service = { authorization: `Bearer ${signServiceToken(t.deps.config.service.privateKey)}` };
    const start = await dyingApp.inject({
      method: 'POST',
      url: `/internal/jobs/${job?.id}/start`,
      headers: service,
      payload: { attempt: 1 },
    });
    assert.equal(start.statusCode, 200, start.body);
    const result = {
      word_count: 0,
      char_count: 0,
      reading_time_seconds: 0,
      tags: [],
      links: [],
      checksum: 'a'.repeat(64),
    };
    const done = await dyingApp.inject({
      method: 'POST',
      url: `/internal/jobs/${job?.id}/complete`,
      headers: service,
      payload: { attempt: 1, result },
    });
    assert.equal(done.statusCode, 200, done.body);

    assert.equal(await count(t, pending), 5, 'five events committed with their writes');
    assert.equal(
      await count(t, "SELECT COUNT(*) AS n FROM outbox WHERE kind = 'event'"),
      0,
      'events have their own table (migration 0010)',
    );
    seen = (await streamTypes(alice.id)).map((e) => e.id);
    assert.ok(!seen.includes(noteId), 'and none published');
  } finally {
    await closeDying();
  }

  // The next instance publishes them, in order.
  const next = await createDeps(t.deps.config);
  const nextApp = await buildApp(next);
  try {
    // Published rows are deleted (workers/outbox-rows.ts).
    await waitFor('the events published', async () => (await count(t, pending)) === 0, 10_000);
    const events = await streamTypes(alice.id);
    // The deleted note's `note.created` refers to a note that is gone: nothing to send, and its
    // `note.deleted` follows (docs/isolation.md, "Live events through the outbox").
    assert.deepEqual(
      events.map(
        (e) => `${e.type} ${e.id === noteId ? 'note' : e.id === bigId ? 'big' : e.id === goneId ? 'gone' : e.id}`,
      ),
      ['note.created note', 'note.created big', 'note.deleted gone', 'note.processed note'],
    );
    const [bigEvent] = (await t.deps.redis.xrange(eventStreamKey(alice.id), '-', '+'))
      .map(([, f]) => JSON.parse(f[3] ?? '{}'))
      .filter((n) => n.id === bigId);
    assert.equal(bigEvent.body, '"'.repeat(40_000), 'the big note, read at publication');
    assert.equal((await call(t, alice, 'GET', `/api/notes/${noteId}`)).json().status, 'processed');
  } finally {
    await nextApp.close();
    await next.close();
  }
});

test('a batch of events goes to Redis together, one call per user, not one round trip after another (issue 13)', async () => {
  await t.deps.liveEvents.stop();
  const users = await Promise.all(['bob', 'carol', 'dave', 'erin'].map((name) => newUser(t, name)));
  for (const u of users) for (let i = 0; i < 2; i++) await createNote(t, u, { title: `together ${i}` });
  // A publisher that answers each call a moment later: the relay's calls overlap or queue.
  let pending = 0;
  let mostPending = 0;
  const calls = new Map<string, string[][]>();
  const events = {
    publishOrThrow: async (userId: string, mine: { type: string }[]) => {
      pending++;
      mostPending = Math.max(mostPending, pending);
      await new Promise((r) => setTimeout(r, 5));
      pending--;
      calls.set(userId, [...(calls.get(userId) ?? []), mine.map((e) => e.type)]);
      return mine.length;
    },
  } as unknown as EventPublisher;
  const relay = relayOf(events);
  relay.start();
  try {
    await waitFor('their events relayed', async () => users.every((u) => calls.has(u.id)), 10_000);
    assert.ok(mostPending >= 4, `all of a batch's calls were out at once (at most ${mostPending} were)`);
    for (const u of users) assert.deepEqual(calls.get(u.id), [['note.created', 'note.created']], 'one call per user');
  } finally {
    await relay.stop();
  }
});

test('the relay drops the user’s cached note reads in the call that publishes their events', async () => {
  await t.deps.liveEvents.stop();
  const frank = await newUser(t, 'frank');
  const note = await createNote(t, frank, { title: 'cached' });
  const relay = relayOf(t.deps.events);
  const pending = 'SELECT COUNT(*) AS n FROM live_events';
  relay.start();
  try {
    await waitFor('the create’s event published', async () => (await count(t, pending)) === 0, 10_000);
    await call(t, frank, 'GET', `/api/notes/${note.id}`);
    // Changed behind the cache's back: the cached read still answers.
    await query(t, "UPDATE notes SET title = 'changed' WHERE id = ?", [note.id]);
    assert.equal((await call(t, frank, 'GET', `/api/notes/${note.id}`)).json().title, 'cached');
    const payload = eventPayload(frank.id, 'note.updated', note.id);
    await query(t, 'INSERT INTO live_events (payload, created_at) VALUES (?, NOW(3))', [payload]);
    relay.nudge();
    await waitFor('the event published', async () => (await count(t, pending)) === 0, 10_000);
    assert.equal((await call(t, frank, 'GET', `/api/notes/${note.id}`)).json().title, 'changed');
  } finally {
    await relay.stop();
  }
});

test('an event row holds no note body, and the published event is the note as GET answers it', async () => {
  await t.deps.liveEvents.stop();
  const grace = await newUser(t, 'grace');
  const body = `a body of its own ${'b'.repeat(2_000)}`;
  const note = await createNote(t, grace, { title: 'by reference', body });
  const edited = await call(t, grace, 'PATCH', `/api/notes/${note.id}`, { title: 'edited' });
  assert.equal(edited.statusCode, 200, edited.body);
  const rows = await query<{ payload: string }>(t, 'SELECT payload FROM live_events ORDER BY id');
  const mine = rows.filter((r) => r.payload.includes(note.id));
  assert.equal(mine.length, 2, 'created and updated');
  for (const { payload } of mine) {
    assert.ok(!payload.includes(body.slice(0, 20)), `no body in ${payload}`);
    assert.ok(payload.length < 200, `a small row: ${payload.length} bytes`);
  }
  const relay = relayOf(t.deps.events);
  relay.start();
  try {
    await untilLiveEventsPublished(t, 'the events published');
  } finally {
    await relay.stop();
  }
  const got = (await call(t, grace, 'GET', `/api/notes/${note.id}`)).body;
  const entries = await t.deps.redis.xrange(eventStreamKey(grace.id), '-', '+');
  assert.deepEqual(
    entries.map(([, f]) => f[1]),
    ['note.created', 'note.updated'],
  );
  // Byte for byte what GET answers: the same rendering (toNote) of the newest version.
  for (const [, f] of entries) assert.equal(f[3], got);
});

test('an inline event an earlier version wrote still publishes, its data as stored', async () => {
  await t.deps.liveEvents.stop();
  const heidi = await newUser(t, 'heidi');
  // Not a note of this database: an inline event is sent as it is, never looked up.
  const data = JSON.stringify({ id: 'from-before', title: 'inline, as written before' });
  const payload = `{"kind":"live.event","user_id":${JSON.stringify(heidi.id)},"type":"note.updated","data":${data}}`;
  await query(t, 'INSERT INTO live_events (payload, created_at) VALUES (?, NOW(3))', [payload]);
  const relay = relayOf(t.deps.events);
  relay.start();
  try {
    await untilLiveEventsPublished(t, 'the event published');
  } finally {
    await relay.stop();
  }
  const entries = await t.deps.redis.xrange(eventStreamKey(heidi.id), '-', '+');
  assert.deepEqual(
    entries.map(([, f]) => [f[1], f[3]]),
    [['note.updated', data]],
  );
});
