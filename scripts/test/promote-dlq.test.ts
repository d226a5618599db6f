import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, beforeEach, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { discardDlq, listDlq, promoteDlq } from '@notes/api/modules/dlq/dlq-service.ts';
import { createDatabase, type Database, migrateDatabase } from '@notes/api/platform/db/client.ts';
import { jobs, notes } from '@notes/api/platform/db/schema.ts';
import {
  assertTopology,
  type Config,
  EXCHANGES,
  encodeJobMessage,
  HEADERS,
  jobPublishOptions,
  MESSAGE_VERSION,
  QUEUES,
  ROUTING,
} from '@notes/contracts';
import { createTestNamespace, type TestNamespace, waitFor } from '@notes/contracts/testing';
import amqp, { type ChannelModel, type ConfirmChannel, type GetMessage } from 'amqplib';
import { eq, inArray } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import { parsePromoteArgs } from '../lib/promote-dlq-args.ts';

/**
 * promote-dlq against a RabbitMQ vhost and a database of this test's own. Dead messages are
 * put into notes.dlq with confirms, as the consumers do (our dead headers), and some by the
 * broker's own dead-lettering (so they carry a real x-death).
 */
const SCRIPT = fileURLToPath(new URL('../promote-dlq.ts', import.meta.url));
const SCRIPTS_DIR = fileURLToPath(new URL('..', import.meta.url));

let ns: TestNamespace;
let config: Config;
let database: Database;
let conn: ChannelModel;
let ch: ConfirmChannel;

before(async () => {
  ns = await createTestNamespace('promote');
  config = ns.config();
  await migrateDatabase(config);
  database = createDatabase(config);
  conn = await amqp.connect(ns.amqpUrl);
  ch = await conn.createConfirmChannel();
  await assertTopology(ch, config.retryDelaysMs);
  // A queue that dead-letters into notes.dlx, so the broker adds x-death like a real death.
  await ch.assertQueue('test.doomed', {
    durable: false,
    arguments: { 'x-dead-letter-exchange': EXCHANGES.dead, 'x-dead-letter-routing-key': ROUTING.dead },
  });
});
after(async () => {
  await conn?.close().catch(() => {});
  await database?.close();
  await ns?.cleanup();
});
beforeEach(async () => {
  await ch.purgeQueue(QUEUES.dead);
  await ch.purgeQueue(QUEUES.work);
});

/** A dead note.process job: note and job rows dead in the database, its message in notes.dlq. */
async function seedDead(n: number, opts: { viaBroker?: boolean } = {}): Promise<string[]> {
  const now = new Date();
  const ids: string[] = [];
  const noteRows = [];
  const jobRows = [];
  for (let i = 0; i < n; i++) {
    const noteId = uuidv7();
    const jobId = uuidv7();
    ids.push(jobId);
    noteRows.push({
      id: noteId,
      userId: 'u1',
      title: `t${i}`,
      body: 'b',
      status: 'dead' as const,
      version: 1,
      createdAt: now,
      updatedAt: now,
    });
    jobRows.push({
      id: jobId,
      noteId,
      userId: 'u1',
      kind: 'note.process' as const,
      priority: 'normal' as const,
      status: 'dead' as const,
      noteVersion: 1,
      attempts: 3,
      deadReason: 'max_attempts: boom',
      createdAt: now,
      updatedAt: now,
    });
  }
  for (let i = 0; i < n; i += 500) {
    await database.db.insert(notes).values(noteRows.slice(i, i + 500));
    await database.db.insert(jobs).values(jobRows.slice(i, i + 500));
  }
  for (const [i, jobId] of ids.entries()) {
    const body = encodeJobMessage({
      v: MESSAGE_VERSION,
      job_id: jobId,
      kind: 'note.process',
      note_id: noteRows[i]!.id,
      note_version: 1,
      user_id: 'u1',
      priority: 'normal',
      created_at: now.toISOString(),
    });
    const options = jobPublishOptions({
      jobId,
      kind: 'note.process',
      priority: 'normal',
      attempt: 3,
      headers: { [HEADERS.deadReason]: 'max_attempts: boom', [HEADERS.deadAt]: now.toISOString(), traceparent: 'tp' },
    });
    if (opts.viaBroker) ch.sendToQueue('test.doomed', body, options);
    else ch.publish(EXCHANGES.dead, ROUTING.dead, body, options);
  }
  await ch.waitForConfirms();
  if (opts.viaBroker) {
    for (;;) {
      const m = await ch.get('test.doomed');
      if (!m) break;
      ch.nack(m, false, false); // dead-lettered by the broker, with x-death
    }
  }
  await until(async () => (await ch.checkQueue(QUEUES.dead)).messageCount >= n + 0, 'messages in the DLQ');
  return ids;
}

async function seedMalformed(): Promise<void> {
  ch.publish(EXCHANGES.dead, ROUTING.dead, Buffer.from('{not json'), {
    persistent: true,
    messageId: 'garbage-1',
    headers: { [HEADERS.malformed]: 'body is not JSON', [HEADERS.deadReason]: 'malformed: body is not JSON' },
  });
  await ch.waitForConfirms();
}

async function until(fn: () => Promise<boolean>, what: string) {
  for (let i = 0; i < 200; i++) {
    if (await fn()) return;
    await sleep(25);
  }
  assert.fail(`never happened: ${what}`);
}

/** Takes every message out of a queue (acked), in order. */
async function drain(queue: string): Promise<GetMessage[]> {
  const out: GetMessage[] = [];
  for (;;) {
    const m = await ch.get(queue, { noAck: true });
    if (!m) return out;
    out.push(m);
  }
}

/** Message ids in a queue, in order, leaving the queue as it was. */
async function peekIds(queue: string): Promise<string[]> {
  const held: GetMessage[] = [];
  for (;;) {
    const m = await ch.get(queue, { noAck: false });
    if (!m) break;
    held.push(m);
  }
  if (held.length) ch.nackAll(true);
  return held.map((m) => String(m.properties.messageId));
}

function runCli(args: string[]): {
  child: ChildProcess;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
} {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, ...args], {
    cwd: SCRIPTS_DIR,
    env: { ...process.env, ...ns.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += c));
  child.stderr!.on('data', (c) => (stderr += c));
  const done = once(child, 'exit').then(([code]) => ({ code: code as number | null, stdout, stderr }));
  return { child, done };
}

const summaryOf = (stdout: string) => {
  const line = stdout.split('\n').find((l) => l.startsWith('summary: '));
  assert.ok(line, `a summary line in: ${stdout}`);
  return Object.fromEntries([...line.matchAll(/(\w+)=(\w+)/g)].map((m) => [m[1], m[2]]));
};

const jobStatuses = async (ids: string[]) =>
  (await database.db.select({ id: jobs.id, status: jobs.status }).from(jobs).where(inArray(jobs.id, ids))).map(
    (r) => r.status,
  );

test('bad usage exits 2 with the usage; --help exits 0', async () => {
  for (const args of [['--nope'], ['--limit', 'ten']]) {
    const { code, stderr } = await runCli(args).done;
    assert.equal(code, 2, args.join(' '));
    assert.match(stderr, /usage: npm run promote-dlq/);
  }
  for (const args of [['--limit', '0'], ['--limit'], ['stray'], ['--job', 'a b'], ['--dry-run=yes']]) {
    assert.throws(() => parsePromoteArgs(args), { name: 'UsageError' }, args.join(' '));
  }
  const help = await runCli(['--help']).done;
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--dry-run/);
  assert.deepEqual(parsePromoteArgs(['--job', 'a', '--job', 'b', '--limit', '3', '--dry-run']), {
    jobIds: ['a', 'b'],
    limit: 3,
    dryRun: true,
    includeMalformed: false,
    help: false,
  });
});

test('--dry-run counts what would move and moves nothing', async () => {
  const ids = await seedDead(3);
  await seedMalformed();
  const { code, stdout } = await runCli(['--dry-run']).done;
  assert.equal(code, 0, stdout);
  assert.deepEqual(summaryOf(stdout), {
    examined: '4',
    promoted: '3',
    skipped: '0',
    malformed: '1',
    failed: '0',
    dry_run: 'true',
  });
  assert.deepEqual(await peekIds(QUEUES.dead), [...ids, 'garbage-1'], 'all still there, in order');
  assert.equal((await ch.checkQueue(QUEUES.work)).messageCount, 0);
  assert.deepEqual(await jobStatuses(ids), ['dead', 'dead', 'dead']);
});

test('--job moves only that job; the others keep their place', async () => {
  const ids = await seedDead(4);
  const { code, stdout } = await runCli(['--job', ids[1]!]).done;
  assert.equal(code, 0, stdout);
  assert.equal(summaryOf(stdout).promoted, '1');
  assert.deepEqual(await peekIds(QUEUES.dead), [ids[0], ids[2], ids[3]]);
  assert.deepEqual(await peekIds(QUEUES.work), [ids[1]]);
  const [job] = await database.db.select().from(jobs).where(eq(jobs.id, ids[1]!));
  assert.equal(job?.status, 'queued');
});

test('a full run moves every message: attempt 1, no x-death, no dead headers; jobs and notes queued', async () => {
  const direct = await seedDead(2);
  const viaBroker = await seedDead(2, { viaBroker: true });
  await seedMalformed();
  const before = await peekIds(QUEUES.dead);
  const dead = await drain(QUEUES.dead);
  assert.ok(
    dead.some((m) => Array.isArray(m.properties.headers?.['x-death'])),
    'the broker added x-death',
  );
  for (const m of dead) ch.publish(EXCHANGES.dead, ROUTING.dead, m.content, m.properties as never);
  await ch.waitForConfirms();
  assert.deepEqual(await peekIds(QUEUES.dead), before);

  const { code, stdout, stderr } = await runCli([]).done;
  assert.equal(code, 0, stderr);
  assert.deepEqual(summaryOf(stdout), {
    examined: '5',
    promoted: '4',
    skipped: '0',
    malformed: '1',
    failed: '0',
    dry_run: 'false',
  });
  assert.deepEqual(await peekIds(QUEUES.dead), ['garbage-1'], 'malformed stays without --include-malformed');
  const moved = await drain(QUEUES.work);
  assert.deepEqual(
    moved.map((m) => m.properties.messageId),
    [...direct, ...viaBroker],
  );
  for (const m of moved) {
    const h = m.properties.headers ?? {};
    assert.equal(h[HEADERS.attempt], 1);
    for (const gone of ['x-death', 'x-first-death-queue', HEADERS.deadReason, HEADERS.deadAt]) {
      assert.equal(h[gone], undefined, gone);
    }
    assert.equal(h.traceparent, 'tp', 'other headers survive');
    assert.match(String(h[HEADERS.promotedAt]), /^\d{4}-\d\d-\d\dT/);
    assert.equal(m.properties.priority, 2);
    assert.equal(m.properties.deliveryMode, 2);
  }
  const rows = await database.db
    .select()
    .from(jobs)
    .where(inArray(jobs.id, [...direct, ...viaBroker]));
  for (const r of rows) assert.deepEqual([r.status, r.attempts, r.deadReason], ['queued', 0, null]);
  const noteRows = await database.db
    .select({ status: notes.status })
    .from(notes)
    .where(
      inArray(
        notes.id,
        rows.map((r) => r.noteId),
      ),
    );
  assert.deepEqual(
    noteRows.map((n) => n.status),
    ['queued', 'queued', 'queued', 'queued'],
  );

  const withMalformed = await runCli(['--include-malformed']).done;
  assert.equal(withMalformed.code, 0);
  assert.equal(summaryOf(withMalformed.stdout).promoted, '1');
  assert.equal((await ch.checkQueue(QUEUES.dead)).messageCount, 0);
});

test('--limit caps how many move', async () => {
  await seedDead(5);
  const { code, stdout } = await runCli(['--limit', '2']).done;
  assert.equal(code, 0);
  assert.equal(summaryOf(stdout).promoted, '2');
  assert.equal((await ch.checkQueue(QUEUES.dead)).messageCount, 3);
  assert.equal((await ch.checkQueue(QUEUES.work)).messageCount, 2);
});

test('killing the command midway loses no message', async () => {
  const ids = await seedDead(1500);
  const { child, done } = runCli([]);
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  // The command's start-up (tsx compiling it) is slow on a busy machine: wait for its first line.
  await waitFor('a progress line', async () => /progress: /.test(stderr), 60_000, 25);
  child.kill('SIGKILL');
  await done;
  // The broker requeues the dead connection's unacked messages; wait for that to settle.
  let last = -1;
  await until(async () => {
    const [d, w] = await Promise.all([ch.checkQueue(QUEUES.dead), ch.checkQueue(QUEUES.work)]);
    const total = d.messageCount + w.messageCount;
    const stable = total === last && total >= ids.length;
    last = total;
    return stable;
  }, 'queues settled');
  const inDlq = (await drain(QUEUES.dead)).map((m) => String(m.properties.messageId));
  const inWork = (await drain(QUEUES.work)).map((m) => String(m.properties.messageId));
  assert.ok(inWork.length > 0 && inDlq.length > 0, `killed midway (work ${inWork.length}, dlq ${inDlq.length})`);
  const seen = new Set([...inDlq, ...inWork]);
  const lost = ids.filter((id) => !seen.has(id));
  assert.deepEqual(lost, [], 'every message is in notes.dlq or notes.jobs');
  // At most the message in hand is in both places.
  assert.ok(inDlq.length + inWork.length <= ids.length + 1);
});

test('listDlq shows dead jobs; discardDlq removes the message and marks the job discarded', async () => {
  const ids = await seedDead(3);
  const listed = await listDlq({ database, limit: 500 });
  for (const id of ids) {
    const row = listed.data.find((j) => j.job_id === id);
    assert.ok(row, id);
    assert.equal(row.reason, 'max_attempts: boom');
    assert.equal(row.attempts, 3);
  }
  const res = await discardDlq({ amqpUrl: ns.amqpUrl, database, config, jobId: ids[1]!, reason: 'not needed' });
  assert.deepEqual(res, { removedMessages: 1, jobFound: true });
  assert.deepEqual(await peekIds(QUEUES.dead), [ids[0], ids[2]]);
  const [job] = await database.db.select().from(jobs).where(eq(jobs.id, ids[1]!));
  assert.deepEqual([job?.status, job?.deadReason], ['discarded', 'not needed']);
  assert.deepEqual(await discardDlq({ amqpUrl: ns.amqpUrl, database, config, jobId: 'nope' }), {
    removedMessages: 0,
    jobFound: false,
  });

  // The service on a live connection (as the admin API calls it), selecting by job id.
  const summary = await promoteDlq({ connection: conn, database, config, jobIds: [ids[2]!] });
  assert.deepEqual([summary.promoted, summary.promotedJobIds], [1, [ids[2]]]);
  assert.deepEqual(await peekIds(QUEUES.dead), [ids[0]]);
});
