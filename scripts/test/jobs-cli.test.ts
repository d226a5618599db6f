import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { letterFromMessage } from '@notes/api/modules/dlq/dead-letter.ts';
import { fileLetters } from '@notes/api/modules/dlq/failure-inbox-repository.ts';
import { auditLog, deadLetters, jobControls, jobs } from '@notes/api/platform/db/schema.ts';
import { HEADERS, QUEUES } from '@notes/contracts';
import { runScript } from '@notes/contracts/testing';
import { eq, inArray, like } from 'drizzle-orm';
import { deadJobMessage, openOpsNamespace, seedDeadJobs } from '../../api/test/admin-fixtures.ts';
import { parseJobsArgs } from '../lib/jobs-args.ts';

/**
 * `npm run jobs` driven as an operator would: a spawned process against a database and a
 * RabbitMQ vhost of this test's own, its stdout, stderr and exit code read back.
 */
const SCRIPT = fileURLToPath(new URL('../jobs.ts', import.meta.url));
const SCRIPTS_DIR = fileURLToPath(new URL('..', import.meta.url));

let kit: Awaited<ReturnType<typeof openOpsNamespace>>;
let database: Awaited<ReturnType<typeof openOpsNamespace>>['database'];
let ch: Awaited<ReturnType<typeof openOpsNamespace>>['ch'];

before(async () => {
  kit = await openOpsNamespace('jobscli');
  ({ database, ch } = kit);
});
after(() => kit?.close());

const jobs_ = (args: string[], env: Record<string, string> = {}) =>
  runScript(SCRIPT, args, { cwd: SCRIPTS_DIR, env: { ...kit.ns.env, ...env } }).done;

/** Dead note.process jobs with their letters in the failure inbox, as the API's drainer leaves them. */
async function seedDead(n: number, reason: string, status: 'dead' | 'failed' = 'dead'): Promise<string[]> {
  const now = new Date();
  const seeded = await seedDeadJobs(database, n, { reason, status, attempts: status === 'dead' ? 5 : 1, now });
  if (status === 'dead') {
    const letters = seeded.map((job) => {
      const { body, options } = deadJobMessage(job, { reason, attempt: 5, at: now });
      return letterFromMessage(body, options as never, now);
    });
    await fileLetters(database.writer, letters);
  }
  return seeded.map((j) => j.id);
}

const statusOf = async (ids: string[]) =>
  (await database.db.select({ status: jobs.status }).from(jobs).where(inArray(jobs.id, ids))).map((r) => r.status);

test('--help, bad usage and destructive actions without --yes', async () => {
  const help = await jobs_(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: npm run jobs -- <command>/);
  const bad = await jobs_(['explode']);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /unknown command "explode"[\s\S]*usage: npm run jobs/);
  // The rest of the usage errors without a process each (a spawn costs seconds on a busy machine).
  for (const args of [
    [],
    ['show'],
    ['show', 'a', 'b'],
    ['list', '--limit', '0'],
    ['list', '--status', 'nope'],
    ['pause', 'note.nope'],
    ['promote'],
    ['promote', '--all', '--group', 'g'],
    ['discard', '--kind', 'note.process'],
    ['retry', 'not an id'],
    ['stats', '--bogus'],
  ]) {
    assert.throws(() => parseJobsArgs(args), { name: 'UsageError' }, args.join(' '));
  }
  assert.deepEqual(
    parseJobsArgs(['promote', '--kind', 'note.process', '--older-than-hours', '2', '--dry-run']).selection,
    {
      filter: { kind: 'note.process', older_than_hours: 2 },
    },
  );
  const noYes = await jobs_(['discard', '--all']);
  assert.equal(noYes.code, 2);
  assert.match(noYes.stderr, /--yes/);
});

test('stats, promote by group (dry run first), show, list', async () => {
  const ids = await seedDead(3, 'max_attempts: Error: upstream 503 after 30000 ms');
  const stats = await jobs_(['stats', '--json']);
  assert.equal(stats.code, 0, stats.stderr);
  const s = JSON.parse(stats.stdout);
  assert.equal(s.failure_inbox.letters, 3);
  const group = s.failure_inbox.groups[0];
  assert.equal(group.count, 3);
  assert.equal(group.message, 'upstream 503 after <n> ms');

  const dry = await jobs_(['promote', '--group', group.group_id, '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /dry run: 3 would be promoted/);
  for (const id of ids) assert.ok(dry.stdout.includes(id), 'the dry run lists what would move');
  assert.deepEqual(await statusOf(ids), ['dead', 'dead', 'dead']);

  // Piped, not a terminal: plain progress lines on stderr, the result on stdout.
  const real = await jobs_(['promote', '--group', group.group_id]);
  assert.equal(real.code, 0, real.stderr);
  assert.match(real.stdout, /promoted 3 of 3/);
  assert.match(real.stderr, /progress: promoted 3\/3/);
  assert.deepEqual(await statusOf(ids), ['queued', 'queued', 'queued']);
  assert.equal((await ch.checkQueue(QUEUES.work)).messageCount, 3);
  const audit = await database.db.select().from(auditLog).where(eq(auditLog.action, 'failures.promote'));
  assert.equal(audit.length, 1);
  assert.match(audit[0]!.actorId, /^cli:/);

  const show = await jobs_(['show', ids[0]!, '--json']);
  assert.equal(show.code, 0, show.stderr);
  assert.equal(JSON.parse(show.stdout).status, 'queued');
  const missing = await jobs_(['show', 'no-such-job']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /No job no-such-job/);

  const list = await jobs_(['list', '--status', 'queued', '--json']);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(new Set(JSON.parse(list.stdout).data.map((j: { id: string }) => j.id)), new Set(ids));
});

test('discard by filter and --all --yes; retry now; pause and resume', async () => {
  const keep = await seedDead(1, 'permanent: Error: refused');
  const gone = await seedDead(2, 'rejected: ApiRejectedError: bad');
  const byFilter = await jobs_(['discard', '--reason', 'ApiRejected', '--yes', '--why', 'bad data', '--json']);
  assert.equal(byFilter.code, 0, byFilter.stderr);
  assert.deepEqual([JSON.parse(byFilter.stdout).discarded, JSON.parse(byFilter.stdout).matched], [2, 2]);
  assert.deepEqual(await statusOf(gone), ['discarded', 'discarded']);
  const [row] = await database.db.select().from(jobs).where(eq(jobs.id, gone[0]!));
  assert.equal(row?.deadReason, 'bad data');
  assert.deepEqual(await statusOf(keep), ['dead']);
  const all = await jobs_(['discard', '--all', '--yes']);
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stdout, /discarded 1 of 1/);
  assert.equal((await database.db.select().from(deadLetters)).length, 0);

  const [waiting] = await seedDead(1, '', 'failed');
  await ch.purgeQueue(QUEUES.work);
  const retry = await jobs_(['retry', waiting!]);
  assert.equal(retry.code, 0, retry.stderr);
  const msg = await ch.get(QUEUES.work, { noAck: true });
  assert.ok(msg);
  assert.equal(msg.properties.headers?.[HEADERS.attempt], 2);
  const notWaiting = await jobs_(['retry', keep[0]!]);
  assert.equal(notWaiting.code, 1, 'a job that is not waiting cannot be retried now');

  const pause = await jobs_(['pause', 'webhook.deliver', '--json']);
  assert.equal(pause.code, 0, pause.stderr);
  assert.equal(JSON.parse(pause.stdout).paused, true);
  const [ctl] = await database.db.select().from(jobControls).where(eq(jobControls.kind, 'webhook.deliver'));
  assert.equal(ctl?.paused, true);
  assert.equal((await jobs_(['resume', 'webhook.deliver'])).code, 0);
  const [after] = await database.db.select().from(jobControls).where(eq(jobControls.kind, 'webhook.deliver'));
  assert.equal(after?.paused, false);
  const audited = await database.db.select().from(auditLog).where(like(auditLog.action, 'control.%'));
  assert.equal(audited.length, 2);
});

test('a service down is exit 1 with a hint', async () => {
  await seedDead(1, 'max_attempts: Error: x');
  const r = await jobs_(['promote', '--all', '--yes'], { AMQP_URL: 'amqp://guest:guest@127.0.0.1:1/' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /RabbitMQ/);
});
