import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { EXCHANGES, HEADERS, QUEUES, ROUTING } from '@notes/contracts';
import { waitFor } from '@notes/contracts/testing';
import type { Options } from 'amqplib';
import { eq } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import { letterFromMessage } from '../src/modules/dlq/dead-letter.ts';
import { fileLetters } from '../src/modules/dlq/failure-inbox-repository.ts';
import { deadLetters } from '../src/platform/db/schema.ts';
import { DlqDrainer } from '../src/workers/dlq-drainer.ts';
import { openBroker, seedJob, seedNote, seedUser } from './admin-fixtures.ts';
import { startTestApp, type TestApp } from './helpers.ts';

/**
 * The drain of notes.dlq into the failure inbox keeps every distinct dead message as its own
 * letter (docs/jobs.md, "The failure inbox"): malformed messages sharing a message_id, one
 * naming a job that already has a letter, a hostile header that does not fit a column, and large
 * bodies; only a redelivery of the same dead message (same letter id) is filed once.
 */
let t: TestApp;
let broker: Awaited<ReturnType<typeof openBroker>>;
let drainer: DlqDrainer;

before(async () => {
  t = await startTestApp('drain');
  broker = await openBroker(t.deps.config);
  drainer = new DlqDrainer(t.deps);
  drainer.start();
});
after(async () => {
  await drainer?.stop();
  await broker?.close();
  await t?.close();
});

const letters = () => t.deps.database.db.select().from(deadLetters);

/** A malformed message as a consumer parks it: its own letter id, the dead headers. */
function parked(messageId: string | undefined, headers: Record<string, unknown> = {}): Options.Publish {
  return {
    persistent: true,
    ...(messageId === undefined ? {} : { messageId }),
    type: 'note.process',
    headers: {
      [HEADERS.malformed]: true,
      [HEADERS.deadReason]: 'malformed: not JSON',
      [HEADERS.deadAt]: new Date().toISOString(),
      [HEADERS.errorClass]: 'malformed',
      [HEADERS.letterId]: uuidv7(),
      ...headers,
    },
  };
}

/** Puts messages in notes.dlq and waits until the drainer has stored (and acked) every one. */
async function drain(messages: [Buffer, Options.Publish][]): Promise<void> {
  const stored = drainer.stored + messages.length;
  for (const [content, options] of messages) broker.channel.publish(EXCHANGES.dead, ROUTING.dead, content, options);
  await broker.channel.waitForConfirms();
  await waitFor('stored', async () => drainer.stored >= stored, 30_000, 50);
  assert.equal(await broker.depth(QUEUES.dead), 0);
}

test('distinct malformed messages each keep a letter; a redelivery of one is filed once', async () => {
  const user = await seedUser(t.app, t.deps.database);
  const noteId = await seedNote(t.deps.database, user.id, { status: 'dead' });
  const jobId = await seedJob(t.deps.database, { id: noteId, userId: user.id }, { status: 'dead', attempts: 3 });
  const stored = drainer.stored + 1;
  await broker.deadLetter({ id: jobId, noteId, userId: user.id }, 'max_attempts: boom');
  await waitFor('stored', async () => drainer.stored >= stored, 30_000, 50);
  const [jobLetter] = await letters();
  assert.equal(jobLetter?.jobId, jobId);

  const again = parked('same-id');
  const messages: [Buffer, Options.Publish][] = [
    // Three different bodies under one message_id that names no job.
    [Buffer.from('{'), parked('0')],
    [Buffer.from('['), parked('0')],
    [Buffer.from('{'), parked('0')],
    // A malformed message naming a job that has a letter: a letter of its own, the job's untouched.
    [Buffer.from('garbage'), parked(jobId)],
    // Attempt headers beyond the INT column, and one hostile string: each still filed.
    [Buffer.from('a'), parked(undefined, { [HEADERS.attempt]: 2 ** 40 })],
    [Buffer.from('b'), parked(undefined, { [HEADERS.attempt]: '99999999999999999999999999999999' })],
    [Buffer.from('c'), parked('x', { traceparent: 'a\u0000b' })],
    // The same dead message twice (a drainer that died before its ack): one letter.
    [Buffer.from('twice'), again],
    [Buffer.from('twice'), again],
  ];
  await drain(messages);

  const rows = await letters();
  assert.equal(rows.length, 1 + messages.length - 1, 'one letter per distinct message');
  const bodies = rows.filter((r) => r.malformed).map((r) => Buffer.from(r.body, 'base64').toString());
  assert.deepEqual(bodies.sort(), ['[', 'a', 'b', 'c', 'garbage', 'twice', '{', '{'].sort(), 'bodies unchanged');
  const [stillTheJobs] = await t.deps.database.db.select().from(deadLetters).where(eq(deadLetters.jobId, jobId));
  assert.deepEqual(stillTheJobs, jobLetter, "the job's letter is unchanged");
  const garbage = rows.find((r) => Buffer.from(r.body, 'base64').toString() === 'garbage');
  assert.equal(garbage?.jobId, null, 'filed apart from the job it names');
  assert.ok(rows.every((r) => r.attempt >= 1 && r.attempt <= 2_147_483_647));
});

test('a malformed message naming a job without a letter is filed under that job', async () => {
  const user = await seedUser(t.app, t.deps.database);
  const noteId = await seedNote(t.deps.database, user.id, { status: 'dead' });
  const jobId = await seedJob(t.deps.database, { id: noteId, userId: user.id }, { status: 'dead', attempts: 1 });
  await drain([[Buffer.from('{"v":2}'), parked(jobId)]]);
  const [row] = await t.deps.database.db.select().from(deadLetters).where(eq(deadLetters.jobId, jobId));
  assert.equal(Buffer.from(row?.body ?? '', 'base64').toString(), '{"v":2}');
  assert.equal(row?.malformed, true);
});

test('large letters are written in statements that fit the server; a body past the limit keeps its start', async () => {
  const before = (await letters()).length;
  // 24 MiB of base64 in all: more than one statement may carry (max_allowed_packet is 16 MiB by default).
  const big = Array.from({ length: 16 }, (_, i) =>
    letterFromMessage(Buffer.alloc(1024 * 1024, 65 + i), parked(undefined) as never),
  );
  const huge = letterFromMessage(Buffer.alloc(9 * 1024 * 1024, 90), { headers: {} } as never);
  await fileLetters(t.deps.database.writer, [...big, huge]);
  const rows = await letters();
  assert.equal(rows.length, before + 17);
  const stored = rows.find((r) => r.id === huge.id)!;
  assert.equal(Buffer.from(stored.body, 'base64').length, 8 * 1024 * 1024);
  assert.equal((stored.headers as { __amqp?: { bodyBytes?: number } }).__amqp?.bodyBytes, 9 * 1024 * 1024);
});
