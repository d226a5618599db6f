import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HEADERS, QUEUES, signServiceToken } from '@notes/contracts';
import { waitFor } from '@notes/contracts/testing';
import { eq } from 'drizzle-orm';
import { markPromoting } from '../src/modules/dlq/failure-inbox-repository.ts';
import { deadLetters, jobs, notes } from '../src/platform/db/schema.ts';
import { DlqDrainer } from '../src/workers/dlq-drainer.ts';
import { bearer, openBroker, type SeededUser, seedJob, seedNote, seedUser } from './admin-fixtures.ts';
import { startTestApp, type TestApp } from './helpers.ts';

/**
 * Day-2 operations through the admin API (docs/jobs.md): the failure inbox drained from
 * notes.dlq, grouped, promoted and discarded by selection; job detail with its attempts; retry
 * now; pause/resume. Real MariaDB and RabbitMQ; no consumers, so moved messages stay countable.
 */
let t: TestApp;
let admin: SeededUser;
let user: SeededUser;
let broker: Awaited<ReturnType<typeof openBroker>>;
let drainer: DlqDrainer;

before(async () => {
  t = await startTestApp('ops');
  admin = await seedUser(t.app, t.deps.database, { role: 'admin' });
  user = await seedUser(t.app, t.deps.database);
  broker = await openBroker(t.deps.config);
  drainer = new DlqDrainer(t.deps);
  drainer.start();
});
after(async () => {
  await drainer?.stop();
  await broker?.close();
  await t?.close();
});

const call = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) =>
  t.app.inject({
    method,
    url,
    headers: bearer(admin.token),
    ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
  });
const service = (url: string, payload?: unknown) =>
  t.app.inject({
    method: payload === undefined ? 'GET' : 'POST',
    url,
    headers: bearer(signServiceToken(t.deps.config.service.privateKey)),
    ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
  });

const letters = async () => (await t.deps.database.db.select().from(deadLetters)).length;
const jobRow = async (id: string) => (await t.deps.database.db.select().from(jobs).where(eq(jobs.id, id)))[0];

/** Dead note.process jobs whose messages went to notes.dlq, drained into the inbox. */
async function deadJobs(n: number, reason: string): Promise<{ id: string; noteId: string }[]> {
  const before = await letters();
  const out = [];
  for (let i = 0; i < n; i++) {
    const noteId = await seedNote(t.deps.database, user.id, { status: 'dead' });
    const id = await seedJob(
      t.deps.database,
      { id: noteId, userId: user.id },
      { status: 'dead', attempts: 5, lastError: reason, deadReason: reason, finishedAt: new Date() },
    );
    await broker.deadLetter({ id, noteId, userId: user.id }, reason);
    out.push({ id, noteId });
  }
  await waitFor('drained into the inbox', async () => (await letters()) === before + n);
  return out;
}

describe('failure inbox', () => {
  test('groups by kind, class and normalised message; a dry run lists and moves nothing', async () => {
    const a = await deadJobs(3, 'max_attempts: WebhookDeliveryError: endpoint answered 503 after 10000 ms');
    await deadJobs(2, 'max_attempts: WebhookDeliveryError: endpoint answered 404 after 12000 ms');
    assert.equal(await broker.depth(QUEUES.dead), 0, 'notes.dlq is only the transport');
    const res = await call('GET', '/api/admin/failures?kind=note.process');
    assert.equal(res.statusCode, 200);
    const groups = res.json().data as { group_id: string; message: string; count: number; error_class: string }[];
    const g503 = groups.find((g) => g.message.includes('503'));
    assert.ok(g503, JSON.stringify(groups));
    assert.equal(g503.count, 3);
    assert.equal(g503.error_class, 'WebhookDeliveryError');
    assert.equal(g503.message, 'endpoint answered 503 after <n> ms');
    assert.equal(groups.find((g) => g.message.includes('404'))?.count, 2);

    const dry = await call('POST', '/api/admin/failures/promote', { group_id: g503.group_id, dry_run: true });
    assert.equal(dry.statusCode, 200);
    assert.equal(dry.json().matched, 3);
    assert.equal(dry.json().moved, 0);
    assert.deepEqual(new Set(dry.json().job_ids), new Set(a.map((j) => j.id)));
    assert.equal(await broker.depth(QUEUES.work), 0);
    assert.equal((await jobRow(a[0]!.id))?.status, 'dead');

    const work = await broker.depth(QUEUES.work);
    const moved = await call('POST', '/api/admin/failures/promote', { group_id: g503.group_id });
    assert.equal(moved.json().moved, 3);
    assert.equal(await broker.depth(QUEUES.work), work + 3);
    for (const j of a) {
      const row = await jobRow(j.id);
      assert.deepEqual([row?.status, row?.attempts, row?.deadReason], ['queued', 0, null]);
      assert.ok(row?.run, 'the job is in a new run');
      const [note] = await t.deps.database.db.select().from(notes).where(eq(notes.id, j.noteId));
      assert.equal(note?.status, 'queued');
    }
    const audit = (await call('GET', '/api/admin/audit?action=failures.promote')).json();
    assert.equal(audit.data[0].count, 3);
  });

  test('discard by filter, then discard all; bad selections are 400s', async () => {
    const old = await deadJobs(2, 'permanent: Error: gone for good');
    const res = await call('POST', '/api/admin/failures/discard', { filter: { reason: 'GONE FOR', user_id: user.id } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().discarded, 2);
    assert.equal((await jobRow(old[0]!.id))?.status, 'discarded');
    await deadJobs(1, 'poison: delivered 5 times without an outcome');
    const all = await call('POST', '/api/admin/failures/discard', { all: true });
    assert.ok(all.json().discarded >= 1);
    assert.equal(await letters(), 0);
    const audit = (await call('GET', '/api/admin/audit?action=failures.discard')).json();
    assert.equal(audit.total, 2);
    for (const payload of [
      {},
      { all: true, group_id: 'x' },
      { filter: {} },
      { filter: { older_than_hours: -1 } },
      { job_ids: [] },
      { all: 'yes' },
    ]) {
      const bad = await call('POST', '/api/admin/failures/promote', payload);
      assert.equal(bad.statusCode, 400, JSON.stringify(payload));
      assert.match(bad.headers['content-type'] as string, /problem\+json/);
    }
  });

  test('a promoted copy that starts before the promoter marked its job completes the promotion itself', async () => {
    const [j] = await deadJobs(1, 'max_attempts: Error: flaky');
    const [letter] = await t.deps.database.db.select().from(deadLetters).where(eq(deadLetters.jobId, j!.id));
    // The promoter marked the letter and published, then died before its second step.
    const run = '2030-01-01T00:00:00.000Z';
    await markPromoting(t.deps.database.writer, [letter!.id], run);
    assert.equal((await jobRow(j!.id))?.status, 'dead', 'still dead while its message is only a letter');
    const stale = await service(`/internal/jobs/${j!.id}/start`, { attempt: 1, run: 'some-other-run' });
    assert.equal(stale.json().proceed, false, 'a copy of another run does not resurrect it');
    const start = await service(`/internal/jobs/${j!.id}/start`, { attempt: 1, run });
    assert.equal(start.json().proceed, true);
    const row = await jobRow(j!.id);
    assert.deepEqual([row?.status, row?.run], ['processing', run]);
    assert.equal(await letters(), 0, 'the letter left the inbox');
    const old = await service(`/internal/jobs/${j!.id}/start`, { attempt: 3 });
    assert.deepEqual(old.json(), { proceed: false, reason: 'stale' }, 'a copy of the old run is stale');
  });
});

test('job detail: payload and attempts as the consumers reported them', async () => {
  const noteId = await seedNote(t.deps.database, user.id);
  const id = await seedJob(t.deps.database, { id: noteId, userId: user.id });
  assert.equal((await service(`/internal/jobs/${id}/start`, { attempt: 1 })).json().proceed, true);
  const fail = await service(`/internal/jobs/${id}/fail`, {
    attempt: 1,
    error: 'WebhookDeliveryError: endpoint answered 502',
    final: false,
    error_class: 'WebhookDeliveryError',
    http_status: 502,
    response_excerpt: '<html>bad gateway</html>',
    duration_ms: 42,
    started_at: new Date(Date.now() - 42).toISOString(),
    trace_id: '0af7651916cd43dd8448eb211c80319c',
  });
  assert.equal(fail.statusCode, 200, fail.body);
  assert.equal((await service(`/internal/jobs/${id}/start`, { attempt: 2 })).json().proceed, true);
  const ok = await service(`/internal/jobs/${id}/complete`, {
    attempt: 2,
    result: { word_count: 1, char_count: 1, reading_time_seconds: 1, tags: [], links: [], checksum: 'a'.repeat(64) },
    duration_ms: 7,
  });
  assert.equal(ok.statusCode, 200, ok.body);

  const res = await call('GET', `/api/admin/jobs/${id}`);
  assert.equal(res.statusCode, 200);
  const job = res.json();
  assert.equal(job.status, 'processed');
  assert.deepEqual(job.payload, {
    v: 1,
    job_id: id,
    kind: 'note.process',
    note_id: noteId,
    note_version: 1,
    user_id: user.id,
    priority: 'normal',
    created_at: job.created_at,
  });
  assert.equal(job.history.length, 2);
  const [first, second] = job.history;
  assert.deepEqual(
    [first.number, first.outcome, first.error_class, first.http_status, first.response_excerpt, first.duration_ms],
    [1, 'failed', 'WebhookDeliveryError', 502, '<html>bad gateway</html>', 42],
  );
  assert.equal(first.error_message, 'WebhookDeliveryError: endpoint answered 502');
  assert.equal(first.trace_id, '0af7651916cd43dd8448eb211c80319c');
  assert.deepEqual([second.number, second.outcome, second.duration_ms], [2, 'processed', 7]);
  assert.equal((await call('GET', '/api/admin/jobs/no-such-job')).statusCode, 404);
  const tooLong = await service(`/internal/jobs/${id}/fail`, {
    attempt: 3,
    error: 'x',
    final: false,
    response_excerpt: 'x'.repeat(1025),
  });
  assert.equal(tooLong.statusCode, 400);
});

test('retry now: a fresh copy of a waiting job goes to work; its waiting copy becomes a no-op', async () => {
  const noteId = await seedNote(t.deps.database, user.id);
  const id = await seedJob(t.deps.database, { id: noteId, userId: user.id });
  await service(`/internal/jobs/${id}/start`, { attempt: 1 });
  await service(`/internal/jobs/${id}/fail`, { attempt: 1, error: 'boom', final: false });
  assert.equal((await jobRow(id))?.status, 'failed');
  await broker.connection.createChannel().then(async (ch) => {
    await ch.purgeQueue(QUEUES.work);
    await ch.close();
  });
  const res = await call('POST', `/api/admin/jobs/${id}/retry`);
  assert.equal(res.statusCode, 202, res.body);
  assert.deepEqual(res.json(), { id, status: 'queued' });
  const ch = await broker.connection.createChannel();
  const msg = await ch.get(QUEUES.work, { noAck: true });
  await ch.close();
  assert.ok(msg, 'a copy in notes.jobs');
  assert.equal(msg.properties.messageId, id);
  assert.equal(msg.properties.headers?.[HEADERS.attempt], 2);
  // The fresh copy runs attempt 2 and fails again; then the waiting copy of attempt 2 arrives.
  assert.equal((await service(`/internal/jobs/${id}/start`, { attempt: 2, first_copy: true })).json().proceed, true);
  await service(`/internal/jobs/${id}/fail`, { attempt: 2, error: 'boom', final: false });
  const late = await service(`/internal/jobs/${id}/start`, { attempt: 2, first_copy: true });
  assert.deepEqual(late.json(), { proceed: false, reason: 'stale' });
  assert.equal((await call('POST', `/api/admin/jobs/${id}/retry`)).statusCode, 202);
  await service(`/internal/jobs/${id}/start`, { attempt: 3 });
  assert.equal((await call('POST', `/api/admin/jobs/${id}/retry`)).statusCode, 409, 'a running job is not waiting');
  assert.equal((await call('POST', '/api/admin/jobs/nope/retry')).statusCode, 404);
  assert.equal((await call('GET', `/api/admin/audit?action=job.retry&target=${id}`)).json().total, 2);
});

test('control: pause and resume a kind, kept in the database, seen by the consumers, audited', async () => {
  const list = await call('GET', '/api/admin/control');
  assert.deepEqual(
    list.json().kinds.map((k: { kind: string; paused: boolean }) => [k.kind, k.paused]),
    [
      ['note.process', false],
      ['webhook.deliver', false],
    ],
  );
  const put = await call('PUT', '/api/admin/control/webhook.deliver', { paused: true });
  assert.equal(put.statusCode, 200);
  assert.equal(put.json().paused, true);
  assert.equal(put.json().changed_by, admin.email);
  assert.deepEqual((await service('/internal/control')).json(), { paused: ['webhook.deliver'] });
  await call('PUT', '/api/admin/control/webhook.deliver', { paused: false });
  assert.deepEqual((await service('/internal/control')).json(), { paused: [] });
  assert.equal((await call('PUT', '/api/admin/control/nope', { paused: true })).statusCode, 400);
  assert.equal((await call('PUT', '/api/admin/control/note.process', { paused: 'yes' })).statusCode, 400);
  assert.equal((await call('GET', '/api/admin/audit?target=webhook.deliver')).json().total, 2);
  const asUser = await t.app.inject({ method: 'GET', url: '/api/admin/control', headers: bearer(user.token) });
  assert.equal(asUser.statusCode, 403);
});
