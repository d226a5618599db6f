import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { encodeJobMessage, HEADERS, type JobMessage, jobPublishOptions, QUEUES } from '@notes/contracts';
import { uuidv7 } from 'uuidv7';
import { noteProcessHandler } from '../src/handlers/note-process.ts';
import type { JobHandler } from '../src/handlers/registry.ts';
import { createWebhookDeliverHandler } from '../src/handlers/webhook-deliver.ts';
import {
  createNote,
  depth,
  jobRows,
  newUser,
  noteOf,
  type Pipeline,
  publishConfirmed,
  startPipeline,
  type TestUser,
  waitFor,
} from './helpers.ts';

let p: Pipeline;
let user: TestUser;
let hangs = 0;

/** note.process that never finishes for notes titled "hang" (until the process stops). */
const hanging: JobHandler<'note.process'> = {
  kind: 'note.process',
  async handle(ctx) {
    if (ctx.note.title !== 'hang') return noteProcessHandler.handle(ctx);
    hangs++;
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
    throw new DOMException('stopped', 'AbortError');
  },
};

before(async () => {
  p = await startPipeline('poison', { MAX_DELIVERIES: '3' });
  user = await newUser(p.t, 'poison');
  await p.startConsumer(
    {},
    { handlers: [hanging, createWebhookDeliverHandler(async () => ({ status: 200, durationMs: 0 }))] },
  );
});
after(() => p?.close());

async function dlqMessages() {
  const ch = await p.channel();
  const out = [];
  for (;;) {
    const msg = await ch.get(QUEUES.dead, { noAck: false });
    if (!msg) break;
    out.push({ content: msg.content.toString(), headers: msg.properties.headers ?? {}, id: msg.properties.messageId });
  }
  await ch.close(); // requeues everything we looked at
  return out;
}

test('malformed messages go straight to notes.dlq and the consumer keeps working', async () => {
  const ch = await p.channel();
  const valid: JobMessage = {
    v: 1,
    job_id: 'x',
    kind: 'note.process',
    note_id: 'n',
    note_version: 1,
    user_id: 'u',
    priority: 'normal',
    created_at: new Date().toISOString(),
  };
  const bad = [
    Buffer.from('{not json'),
    encodeJobMessage({ ...valid, job_id: 'bad-kind', kind: 'note.explode' as JobMessage['kind'] }),
    encodeJobMessage({ ...valid, job_id: 'bad-schema', note_version: 0 }),
    Buffer.from(JSON.stringify({ ...valid, job_id: 'extra', surprise: true })),
    Buffer.from(''),
  ];
  for (const content of bad) await publishConfirmed(ch, 'notes.jobs', 'job', content, { priority: 3 });
  await ch.close();

  await waitFor('five parked', async () => (await depth(p, QUEUES.dead)) === 5);
  const parked = await dlqMessages();
  assert.equal(parked.length, 5);
  for (const m of parked) {
    assert.equal(m.headers[HEADERS.malformed], true);
    assert.match(String(m.headers[HEADERS.deadReason]), /^malformed: /);
    assert.ok(!Number.isNaN(Date.parse(String(m.headers[HEADERS.deadAt]))));
  }
  assert.deepEqual(
    parked.map((m) => m.content).sort(),
    bad.map((b) => b.toString()).sort(),
    'bodies kept as they were',
  );
  const reasons = parked.map((m) => String(m.headers[HEADERS.deadReason])).join('\n');
  assert.match(reasons, /not JSON/);
  assert.match(reasons, /kind/);
  assert.match(reasons, /note_version/);

  // Still consuming.
  const created = await createNote(p.t, user, { title: 'after poison', body: 'fine #ok' });
  await waitFor('processed', async () => (await noteOf(p, user, created.id)).status === 'processed');
  assert.equal(await depth(p, QUEUES.work), 0);
});

test('a malformed message whose job id is readable makes that job dead', async () => {
  const created = await createNote(p.t, user, { title: 'victim', body: 'x' });
  await waitFor('processed', async () => (await noteOf(p, user, created.id)).status === 'processed');
  // A second job row for the same note, whose message arrives mangled.
  const jobId = uuidv7();
  await p.t.deps.database.pool.query(
    `INSERT INTO jobs (id, note_id, user_id, kind, priority, status, note_version, attempts, created_at, updated_at)
     SELECT ?, id, user_id, 'webhook.deliver', 'normal', 'queued', version, 0, NOW(3), NOW(3) FROM notes WHERE id = ?`,
    [jobId, created.id],
  );
  const ch = await p.channel();
  const options = jobPublishOptions({ jobId, kind: 'webhook.deliver', priority: 'normal', attempt: 1 });
  await publishConfirmed(
    ch,
    'notes.jobs',
    'job',
    Buffer.from(JSON.stringify({ job_id: jobId, kind: 'webhook.deliver' })),
    options,
  );
  await ch.close();
  const job = await waitFor('job dead', async () => {
    const rows = await jobRows(p, created.id);
    const j = rows.find((r) => r.id === jobId);
    return j?.status === 'dead' && j;
  });
  assert.match(job.dead_reason ?? '', /^malformed: schema: /);
  assert.equal((await noteOf(p, user, created.id)).status, 'processed', 'the note is untouched');
});

test('a message that keeps losing its consumer is parked as poison after MAX_DELIVERIES', async () => {
  const before = (await dlqMessages()).length;
  const created = await createNote(p.t, user, { title: 'hang', body: 'never finishes' });
  // Each time the handler holds it, the connection is cut (as a crash would), so the broker
  // redelivers it. The third delivery without an outcome parks it.
  for (let cut = 1; cut <= 3; cut++) {
    await waitFor(`delivery ${cut} in the handler`, () => hangs >= cut);
    await closeConsumerConnections(p.t.ns.vhost);
  }
  const job = await waitFor('job dead', async () => {
    const [j] = await jobRows(p, created.id);
    return j?.status === 'dead' && j;
  });
  assert.match(job.dead_reason ?? '', /^poison: delivered 3 times without an outcome$/);
  assert.equal((await noteOf(p, user, created.id)).status, 'dead');
  const parked = await dlqMessages();
  assert.equal(parked.length, before + 1);
  const poison = parked.find((m) => m.id === job.id);
  assert.match(String(poison?.headers[HEADERS.deadReason]), /^poison: /);
  assert.equal(hangs, 3, 'never run a fourth time');
  // The consumer reconnected every time and still works.
  const fine = await createNote(p.t, user, { title: 'fine', body: 'ok' });
  await waitFor('processed', async () => (await noteOf(p, user, fine.id)).status === 'processed');
});

const closed = new Set<string>();

/**
 * Closes this vhost's consumer connection through the management API, like a crash or a network
 * cut. The management API lists a new connection with a delay, so wait for one not closed before.
 */
async function closeConsumerConnections(vhost: string): Promise<void> {
  const auth = `Basic ${Buffer.from('guest:guest').toString('base64')}`;
  const ours = await waitFor('a consumer connection listed', async () => {
    const res = await fetch(`http://127.0.0.1:15672/api/vhosts/${encodeURIComponent(vhost)}/connections`, {
      headers: { authorization: auth },
    });
    const conns = (await res.json()) as { name: string; client_properties?: { connection_name?: string } }[];
    const found = conns.filter(
      (c) => c.client_properties?.connection_name?.startsWith('notes-consumer') && !closed.has(c.name),
    );
    return found.length > 0 && found;
  });
  for (const c of ours) {
    closed.add(c.name);
    await fetch(`http://127.0.0.1:15672/api/connections/${encodeURIComponent(c.name)}`, {
      method: 'DELETE',
      headers: { authorization: auth },
    });
  }
}
