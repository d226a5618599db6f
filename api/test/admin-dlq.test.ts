import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEFERRED, QUEUES, retryQueueName } from '@notes/contracts';
import { eq } from 'drizzle-orm';
import { jobs, notes } from '../src/platform/db/schema.ts';
import { bearer, openBroker, type SeededUser, seedJob, seedNote, seedUser } from './admin-fixtures.ts';
import { startTestApp, type TestApp } from './helpers.ts';

/**
 * The admin API's operations on RabbitMQ: promote and discard dead jobs, queue depths, and the
 * dashboard's statistics. No consumers run here, so a promoted message stays in notes.jobs
 * where the test can count it.
 */
let t: TestApp;
let admin: SeededUser;
let user: SeededUser;
let broker: Awaited<ReturnType<typeof openBroker>>;

before(async () => {
  t = await startTestApp('admindlq');
  admin = await seedUser(t.app, t.deps.database, { role: 'admin' });
  user = await seedUser(t.app, t.deps.database);
  broker = await openBroker(t.deps.config);
});
after(async () => {
  await broker?.close();
  await t?.close();
});

const call = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: Record<string, unknown>) =>
  t.app.inject({ method, url, headers: bearer(admin.token), ...(payload === undefined ? {} : { payload }) });

/** A note whose note.process job died after 3 attempts, with its message in notes.dlq. */
async function deadJob(reason = 'upstream timeout', kind: 'note.process' | 'webhook.deliver' = 'note.process') {
  const noteId = await seedNote(t.deps.database, user.id, { status: 'dead' });
  const id = await seedJob(
    t.deps.database,
    { id: noteId, userId: user.id },
    { kind, status: 'dead', attempts: 3, lastError: reason, deadReason: reason, finishedAt: new Date() },
  );
  await broker.deadLetter({ id, noteId, userId: user.id }, reason);
  return { id, noteId };
}

const jobRow = async (id: string) => (await t.deps.database.db.select().from(jobs).where(eq(jobs.id, id)))[0];

describe('promote', () => {
  test('a dry run counts and moves nothing', async () => {
    const a = await deadJob();
    const dlqBefore = await broker.depth(QUEUES.dead);
    const res = await call('POST', '/api/admin/dlq/promote', { job_ids: [a.id], dry_run: true });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), {
      dry_run: true,
      matched: 1,
      promoted: 1,
      skipped: 0,
      missing: 0,
      failed: 0,
      job_ids: [a.id],
    });
    assert.equal(await broker.depth(QUEUES.dead), dlqBefore);
    assert.equal((await jobRow(a.id))?.status, 'dead');
    const audit = (await call('GET', '/api/admin/audit?action=dlq.promote')).json();
    assert.equal(audit.total, 0, 'a dry run changes nothing, so it is not audited');
  });

  test('selected dead jobs go back to work: queued, attempts reset, message moved, audited', async () => {
    const a = await deadJob();
    const b = await deadJob();
    const notDead = await seedJob(t.deps.database, { id: a.noteId, userId: user.id }, { status: 'processed' });
    const workBefore = await broker.depth(QUEUES.work);
    const dlqBefore = await broker.depth(QUEUES.dead);

    const res = await call('POST', '/api/admin/dlq/promote', { job_ids: [a.id, notDead] });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.promoted, 1);
    assert.equal(body.skipped, 1, 'the job that is not dead is left alone');
    assert.deepEqual(body.job_ids, [a.id]);

    const row = await jobRow(a.id);
    assert.equal(row?.status, 'queued');
    assert.equal(row?.attempts, 0);
    const [note] = await t.deps.database.db.select().from(notes).where(eq(notes.id, a.noteId));
    assert.equal(note?.status, 'queued');
    assert.equal((await jobRow(b.id))?.status, 'dead', 'unselected jobs stay dead');
    assert.equal(await broker.depth(QUEUES.work), workBefore + 1);
    assert.equal(await broker.depth(QUEUES.dead), dlqBefore - 1);

    const audit = (await call('GET', '/api/admin/audit?action=dlq.promote')).json();
    assert.equal(audit.total, 1);
    assert.equal(audit.data[0].actor_id, admin.id);
    assert.equal(audit.data[0].count, 1);
    assert.deepEqual(audit.data[0].detail.job_ids, [a.id]);
  });

  test('by filter: only dead jobs matching it; a dead job without a message is reported missing', async () => {
    const slow = await deadJob('webhook slow', 'webhook.deliver');
    const orphanNote = await seedNote(t.deps.database, user.id);
    const orphan = await seedJob(
      t.deps.database,
      { id: orphanNote, userId: user.id },
      { kind: 'webhook.deliver', status: 'dead', deadReason: 'webhook slow, lost message', finishedAt: new Date() },
    );
    const res = await call('POST', '/api/admin/dlq/promote', { filter: { kind: 'webhook.deliver', q: 'SLOW' } });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.matched, 2);
    assert.equal(body.promoted, 1);
    assert.equal(body.missing, 1);
    assert.deepEqual(body.job_ids, [slow.id]);
    assert.equal((await jobRow(orphan))?.status, 'dead');
  });

  test('nothing matching is a zero answer; bad bodies are 400s', async () => {
    const none = await call('POST', '/api/admin/dlq/promote', { job_ids: ['no-such-job'] });
    assert.equal(none.statusCode, 200);
    assert.equal(none.json().promoted, 0);
    for (const payload of [{ job_ids: [] }, { job_ids: 'x' }, { filter: { status: 'dead' } }, { dry: true }]) {
      assert.equal((await call('POST', '/api/admin/dlq/promote', payload)).statusCode, 400, JSON.stringify(payload));
    }
  });

  test('with neither ids nor filter, everything in notes.dlq is promoted', async () => {
    await deadJob();
    const res = await call('POST', '/api/admin/dlq/promote', {});
    assert.equal(res.statusCode, 200);
    assert.ok(res.json().promoted >= 1);
    assert.equal(await broker.depth(QUEUES.dead), 0);
    assert.equal((await call('GET', '/api/admin/audit?action=dlq.promote')).json().data[0].target, 'all');
  });
});

describe('discard', () => {
  test('a dead job is discarded: its message leaves notes.dlq, the reason is kept, audited', async () => {
    const keep = await deadJob();
    const gone = await deadJob();
    const before = await broker.depth(QUEUES.dead);
    const res = await call('DELETE', `/api/admin/dlq/${gone.id}`, { reason: 'customer deleted' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { job_id: gone.id, status: 'discarded', removed_messages: 1 });
    assert.equal(await broker.depth(QUEUES.dead), before - 1);
    const row = await jobRow(gone.id);
    assert.equal(row?.status, 'discarded');
    assert.equal(row?.deadReason, 'customer deleted');
    assert.equal((await jobRow(keep.id))?.status, 'dead');
    const dlq = (await call('GET', '/api/admin/dlq')).json();
    assert.ok(!dlq.data.some((d: { id: string }) => d.id === gone.id));
    const audit = (await call('GET', `/api/admin/audit?action=dlq.discard&target=${gone.id}`)).json();
    assert.equal(audit.total, 1);
    assert.equal(audit.data[0].detail.reason, 'customer deleted');
  });

  test('without a body the reason is a default; not dead → 409; unknown → 404', async () => {
    const d = await deadJob();
    const res = await t.app.inject({ method: 'DELETE', url: `/api/admin/dlq/${d.id}`, headers: bearer(admin.token) });
    assert.equal(res.statusCode, 200);
    assert.equal((await jobRow(d.id))?.deadReason, 'discarded by an operator');
    const again = await call('DELETE', `/api/admin/dlq/${d.id}`);
    assert.equal(again.statusCode, 409);
    assert.equal((await call('DELETE', '/api/admin/dlq/no-such-job')).statusCode, 404);
    assert.equal((await call('DELETE', `/api/admin/dlq/${d.id}`, { why: 'x' })).statusCode, 400);
  });
});

test('queues: ready and consumers of the work, retry and dead queues', async () => {
  const d = await deadJob();
  const res = await call('GET', '/api/admin/queues');
  assert.equal(res.statusCode, 200);
  const body = res.json();
  assert.equal(body.connected, true);
  const names = body.queues.map((q: { name: string }) => q.name);
  const delays = t.deps.config.retryDelaysMs;
  assert.deepEqual(names, [
    QUEUES.work,
    ...delays.map((ms) => retryQueueName(ms)),
    QUEUES.webhooks,
    ...delays.map((ms) => retryQueueName(ms, 'webhooks')),
    DEFERRED.queue,
    QUEUES.dead,
  ]);
  const dead = body.queues.find((q: { name: string }) => q.name === QUEUES.dead);
  assert.equal(dead.ready, await broker.depth(QUEUES.dead));
  assert.equal(dead.consumers, 0);
  assert.equal(dead.unacked, null);
  const work = body.queues.find((q: { name: string }) => q.name === QUEUES.work);
  assert.equal(work.ready, await broker.depth(QUEUES.work));
  assert.equal(typeof body.in_flight_jobs, 'number');
  await call('DELETE', `/api/admin/dlq/${d.id}`);
});

test('stats: status counts, throughput per minute over 15 minutes, DLQ size', async () => {
  const db = t.deps.database;
  const noteId = await seedNote(db, user.id, { status: 'processed' });
  const now = Date.now();
  // Finished 2 and 20 minutes ago: only the first is inside the window.
  await seedJob(db, { id: noteId, userId: user.id }, { status: 'processed', finishedAt: new Date(now - 2 * 60_000) });
  await seedJob(db, { id: noteId, userId: user.id }, { status: 'processed', finishedAt: new Date(now - 20 * 60_000) });
  await deadJob();

  const res = await call('GET', '/api/admin/stats');
  assert.equal(res.statusCode, 200);
  const s = res.json();
  const sqlRows = async (q: string, params: unknown[] = []) =>
    (await db.pool.query(q, params))[0] as unknown as { status?: string; n: number }[];
  for (const row of await sqlRows('SELECT status, COUNT(*) AS n FROM notes GROUP BY status')) {
    assert.equal(s.notes.by_status[row.status as string], Number(row.n), row.status);
  }
  assert.equal(s.notes.by_status.failed, 0, 'absent statuses are zero');
  assert.equal(s.jobs.total, Number((await sqlRows('SELECT COUNT(*) AS n FROM jobs'))[0]?.n));
  assert.equal(s.dlq.jobs, Number((await sqlRows(`SELECT COUNT(*) AS n FROM jobs WHERE status = 'dead'`))[0]?.n));
  assert.equal(s.dlq.messages, await broker.depth(QUEUES.dead));

  assert.equal(s.throughput.window_minutes, 15);
  assert.equal(s.throughput.minutes.length, 15);
  const windowStart = new Date(s.throughput.minutes[0].minute);
  const inWindow = await sqlRows('SELECT COUNT(*) AS n FROM jobs WHERE finished_at >= ?', [windowStart]);
  const bucketed = s.throughput.minutes.reduce((sum: number, m: { finished: number }) => sum + m.finished, 0);
  assert.equal(bucketed, Number(inWindow[0]?.n));
  assert.equal(s.throughput.per_minute, Math.round((bucketed / 15) * 100) / 100);
  const twoAgo = Math.floor((now - 2 * 60_000) / 60_000) * 60_000;
  const bucket = s.throughput.minutes.find((m: { minute: string }) => Date.parse(m.minute) === twoAgo);
  assert.ok(bucket && bucket.processed >= 1, 'the job finished two minutes ago is in its minute');
});

test('promote and discard answer 503 while RabbitMQ is unreachable', async () => {
  const d = await deadJob();
  await t.deps.amqp.stop();
  try {
    const res = await call('POST', '/api/admin/dlq/promote', { job_ids: [d.id] });
    assert.equal(res.statusCode, 503);
    assert.equal((await call('DELETE', `/api/admin/dlq/${d.id}`)).statusCode, 503);
    const queues = (await call('GET', '/api/admin/queues')).json();
    assert.equal(queues.connected, false);
    assert.equal(queues.queues[0].ready, null);
    assert.equal((await call('GET', '/api/admin/stats')).json().dlq.messages, null);
    assert.equal((await jobRow(d.id))?.status, 'dead', 'nothing changed');
  } finally {
    t.deps.amqp.start();
    await t.deps.amqp.waitConnected(5000);
  }
});
