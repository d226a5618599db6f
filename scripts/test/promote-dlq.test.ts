import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { discardDlq, listDlq, promoteDlq } from '@notes/api/modules/dlq/dlq-service.ts';
import { jobs, notes } from '@notes/api/platform/db/schema.ts';
import { EXCHANGES, HEADERS, QUEUES, ROUTING } from '@notes/contracts';
import { runScript, waitFor } from '@notes/contracts/testing';
import type { GetMessage } from 'amqplib';
import { eq, inArray } from 'drizzle-orm';
import { deadJobMessage, openOpsNamespace, seedDeadJobs } from '../../api/test/admin-fixtures.ts';
import { parsePromoteArgs } from '../lib/promote-dlq-args.ts';

/**
 * promote-dlq against a RabbitMQ vhost and a database of this test's own. Dead messages are
 * put into notes.dlq with confirms, as the consumers do (our dead headers), and some by the
 * broker's own dead-lettering (so they carry a real x-death).
 */
const SCRIPT = fileURLToPath(new URL('../promote-dlq.ts', import.meta.url));
const SCRIPTS_DIR = fileURLToPath(new URL('..', import.meta.url));

let kit: Awaited<ReturnType<typeof openOpsNamespace>>;
const db = () => kit.database.db;

before(async () => {
  kit = await openOpsNamespace('promote');
  // A queue that dead-letters into notes.dlx, so the broker adds x-death like a real death.
  await kit.ch.assertQueue('test.doomed', {
    durable: false,
    arguments: { 'x-dead-letter-exchange': EXCHANGES.dead, 'x-dead-letter-routing-key': ROUTING.dead },
  });
});
after(() => kit?.close());
beforeEach(async () => {
  await kit.ch.purgeQueue(QUEUES.dead);
  await kit.ch.purgeQueue(QUEUES.work);
});

/** Dead note.process jobs: note and job rows dead in the database, their messages in notes.dlq. */
async function seedDead(n: number, opts: { viaBroker?: boolean } = {}): Promise<string[]> {
  const { ch } = kit;
  const seeded = await seedDeadJobs(kit.database, n);
  for (const job of seeded) {
    const { body, options } = deadJobMessage(job, { headers: { traceparent: 'tp' } });
    if (opts.viaBroker) ch.sendToQueue('test.doomed', body, options);
    else ch.publish(EXCHANGES.dead, ROUTING.dead, body, options);
  }
  await ch.waitForConfirms();
  if (opts.viaBroker) {
    for (let m = await ch.get('test.doomed'); m; m = await ch.get('test.doomed')) {
      ch.nack(m, false, false); // dead-lettered by the broker, with x-death
    }
  }
  await waitFor('messages in the DLQ', async () => (await kit.ch.checkQueue(QUEUES.dead)).messageCount >= n, 5000, 25);
  return seeded.map((j) => j.id);
}

async function seedMalformed(): Promise<void> {
  kit.ch.publish(EXCHANGES.dead, ROUTING.dead, Buffer.from('{not json'), {
    persistent: true,
    messageId: 'garbage-1',
    headers: { [HEADERS.malformed]: 'body is not JSON', [HEADERS.deadReason]: 'malformed: body is not JSON' },
  });
  await kit.ch.waitForConfirms();
}

/** Takes every message out of a queue (acked), in order. */
async function drain(queue: string): Promise<GetMessage[]> {
  const out: GetMessage[] = [];
  for (let m = await kit.ch.get(queue, { noAck: true }); m; m = await kit.ch.get(queue, { noAck: true })) out.push(m);
  return out;
}

/** Message ids in a queue, in order, leaving the queue as it was. */
async function peekIds(queue: string): Promise<string[]> {
  const held: GetMessage[] = [];
  for (let m = await kit.ch.get(queue, { noAck: false }); m; m = await kit.ch.get(queue, { noAck: false }))
    held.push(m);
  if (held.length) kit.ch.nackAll(true);
  return held.map((m) => String(m.properties.messageId));
}

const runCli = (args: string[]) => runScript(SCRIPT, args, { cwd: SCRIPTS_DIR, env: kit.ns.env });

const summaryOf = (stdout: string) => {
  const line = stdout.split('\n').find((l) => l.startsWith('summary: '));
  assert.ok(line, `a summary line in: ${stdout}`);
  return Object.fromEntries([...line.matchAll(/(\w+)=(\w+)/g)].map((m) => [m[1], m[2]]));
};

const jobStatuses = async (ids: string[]) =>
  (await db().select({ id: jobs.id, status: jobs.status }).from(jobs).where(inArray(jobs.id, ids))).map(
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
  assert.equal((await kit.ch.checkQueue(QUEUES.work)).messageCount, 0);
  assert.deepEqual(await jobStatuses(ids), ['dead', 'dead', 'dead']);
});

test('--job moves only that job; the others keep their place', async () => {
  const ids = await seedDead(4);
  const { code, stdout } = await runCli(['--job', ids[1]!]).done;
  assert.equal(code, 0, stdout);
  assert.equal(summaryOf(stdout).promoted, '1');
  assert.deepEqual(await peekIds(QUEUES.dead), [ids[0], ids[2], ids[3]]);
  assert.deepEqual(await peekIds(QUEUES.work), [ids[1]]);
  const [job] = await db().select().from(jobs).where(eq(jobs.id, ids[1]!));
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
  for (const m of dead) kit.ch.publish(EXCHANGES.dead, ROUTING.dead, m.content, m.properties as never);
  await kit.ch.waitForConfirms();
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
  const rows = await db()
    .select()
    .from(jobs)
    .where(inArray(jobs.id, [...direct, ...viaBroker]));
  for (const r of rows) assert.deepEqual([r.status, r.attempts, r.deadReason], ['queued', 0, null]);
  const noteRows = await db()
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
  assert.equal((await kit.ch.checkQueue(QUEUES.dead)).messageCount, 0);
});

test('--limit caps how many move', async () => {
  await seedDead(5);
  const { code, stdout } = await runCli(['--limit', '2']).done;
  assert.equal(code, 0);
  assert.equal(summaryOf(stdout).promoted, '2');
  assert.equal((await kit.ch.checkQueue(QUEUES.dead)).messageCount, 3);
  assert.equal((await kit.ch.checkQueue(QUEUES.work)).messageCount, 2);
});

test('killing the command midway loses no message', async () => {
  const ids = await seedDead(1500);
  const { child, done } = runCli([]);
  let stderr = '';
  child.stderr?.on('data', (c) => (stderr += c));
  // The command's start-up (tsx compiling it) is slow on a busy machine: wait for its first line.
  await waitFor('a progress line', async () => /progress: /.test(stderr), 60_000, 25);
  child.kill('SIGKILL');
  await done;
  // The broker requeues the dead connection's unacked messages; wait for that to settle.
  let last = -1;
  await waitFor(
    'queues settled',
    async () => {
      const [d, w] = await Promise.all([kit.ch.checkQueue(QUEUES.dead), kit.ch.checkQueue(QUEUES.work)]);
      const total = d.messageCount + w.messageCount;
      const stable = total === last && total >= ids.length;
      last = total;
      return stable;
    },
    5000,
    25,
  );
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
  const listed = await listDlq({ database: kit.database, limit: 500 });
  for (const id of ids) {
    const row = listed.data.find((j) => j.job_id === id);
    assert.ok(row, id);
    assert.equal(row.reason, 'max_attempts: boom');
    assert.equal(row.attempts, 3);
  }
  const res = await discardDlq({
    amqpUrl: kit.ns.amqpUrl,
    database: kit.database,
    config: kit.config,
    jobId: ids[1]!,
    reason: 'not needed',
  });
  assert.deepEqual(res, { removedMessages: 1, jobFound: true });
  assert.deepEqual(await peekIds(QUEUES.dead), [ids[0], ids[2]]);
  const [job] = await db().select().from(jobs).where(eq(jobs.id, ids[1]!));
  assert.deepEqual([job?.status, job?.deadReason], ['discarded', 'not needed']);
  assert.deepEqual(
    await discardDlq({ amqpUrl: kit.ns.amqpUrl, database: kit.database, config: kit.config, jobId: 'nope' }),
    {
      removedMessages: 0,
      jobFound: false,
    },
  );

  // The service on a live connection (as the admin API calls it), selecting by job id.
  const summary = await promoteDlq({
    connection: kit.conn,
    database: kit.database,
    config: kit.config,
    jobIds: [ids[2]!],
  });
  assert.deepEqual([summary.promoted, summary.promotedJobIds], [1, [ids[2]]]);
  assert.deepEqual(await peekIds(QUEUES.dead), [ids[0]]);
});
