import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import {
  decodeJobMessage,
  EXCHANGES,
  HEADERS,
  type JobMessage,
  MAX_MESSAGE_BYTES,
  QUEUES,
  ROUTING,
} from '@notes/contracts';
import { publishConfirmed, queueInfo, waitFor } from '@notes/contracts/testing';
import type { Options } from 'amqplib';
import fc from 'fast-check';
import { openChannel, queueDepths } from '../../src/broker.ts';
import { deepJson, HOSTILE_STRINGS, hostileString } from '../../src/hostile.ts';
import { registerUsers, request } from '../../src/http.ts';
import { type Product, startProduct } from '../../src/product.ts';

/**
 * Hostile messages published straight to notes.jobs, past the API (a broken or malicious
 * producer): bad JSON, wrong types, missing and extra fields, unknown kinds, wrong `v`, over
 * 64 KiB, empty, binary, hostile properties and headers. Each one that fails the message schema
 * lands in notes.dlq marked malformed, with its body unchanged; the rest are settled without
 * touching anyone's data; the consumer never stops, and a note written afterwards is processed.
 */
let product: Product;

before(async () => {
  product = await startProduct('e2emsg');
  await product.startApi();
  await product.startConsumer();
});

after(async () => {
  await product?.close();
});

const valid = (): JobMessage => ({
  v: 1,
  job_id: randomUUID(),
  kind: 'note.process',
  note_id: randomUUID(),
  note_version: 1,
  user_id: randomUUID(),
  priority: 'normal',
  created_at: new Date().toISOString(),
});
const KEYS = ['v', 'job_id', 'kind', 'note_id', 'note_version', 'user_id', 'priority', 'webhook_id', 'created_at'];
const anyValue = fc.oneof(hostileString, fc.jsonValue({ maxDepth: 2 }), fc.integer(), fc.double(), fc.constant(null));

/** A message body: a valid message mutated, or raw text and bytes. */
const body: fc.Arbitrary<Buffer> = fc
  .oneof(
    { weight: 2, arbitrary: fc.constantFrom(...KEYS).map((k) => JSON.stringify({ ...valid(), [k]: undefined })) },
    {
      weight: 3,
      arbitrary: fc.tuple(fc.constantFrom(...KEYS), anyValue).map(([k, v]) => JSON.stringify({ ...valid(), [k]: v })),
    },
    { weight: 1, arbitrary: fc.tuple(hostileString, anyValue).map(([k, v]) => JSON.stringify({ ...valid(), [k]: v })) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(0, 2, '1', 1.5, null, -1, true).map((v) => JSON.stringify({ ...valid(), v })),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('note.explode', '', 'NOTE.PROCESS', 'webhook.deliver', '__proto__')
        .map((kind) => JSON.stringify({ ...valid(), kind })),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '{',
        '',
        'null',
        '[]',
        '1',
        '"x"',
        '{"v":1e309}',
        '\ufeff{}',
        deepJson(10_000, 'array'),
        deepJson(10_000, 'object', 'v'),
      ),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(MAX_MESSAGE_BYTES + 1, 1024 * 1024)
        .map((n) => JSON.stringify({ ...valid(), pad: 'x'.repeat(n) })),
    },
    // Schema-valid, for jobs nobody has: settled as unknown, never dead-lettered as malformed.
    { weight: 1, arbitrary: fc.constant(null).map(() => JSON.stringify(valid())) },
  )
  .map((b) => (Buffer.isBuffer(b) ? b : Buffer.from(b, 'utf8')));

const properties: fc.Arbitrary<Options.Publish> = fc.record(
  {
    messageId: fc.oneof(fc.constantFrom(...HOSTILE_STRINGS.filter((s) => s.length < 200)), fc.uuid()),
    priority: fc.integer({ min: 0, max: 255 }),
    contentType: fc.constantFrom('application/json', 'text/plain', 'application/octet-stream', ''),
    type: fc.constantFrom('note.process', 'webhook.deliver', 'x'),
    headers: fc.record(
      {
        [HEADERS.attempt]: fc.oneof(fc.integer({ min: -5, max: 2_000 }), hostileString),
        [HEADERS.deliveries]: fc.oneof(fc.integer({ min: -5, max: 10 }), hostileString),
        [HEADERS.promotedAt]: hostileString,
        traceparent: hostileString,
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);

const snapshot = async () => {
  const rows = await product.query<{ Table: string; Checksum: number }>(
    'CHECKSUM TABLE notes, jobs, processed_messages, webhooks, users',
  );
  return rows.map((r) => `${r.Table.split('.').pop()}=${r.Checksum}`).join(' ');
};

test('hostile messages on notes.jobs: malformed ones parked in notes.dlq as malformed, nothing else changes, the consumer goes on', async (t) => {
  const RUNS = Number(process.env.FUZZ_MESSAGE_RUNS ?? 600);
  const samples = fc.sample(fc.tuple(body, properties), { numRuns: RUNS });
  const before = await snapshot();
  const expectedMalformed = new Map<string, number>();
  const { ch, close } = await openChannel(product.ns.amqpUrl);
  try {
    for (const [content, props] of samples) {
      if (!decodeJobMessage(content).ok) {
        const key = content.toString('base64');
        expectedMalformed.set(key, (expectedMalformed.get(key) ?? 0) + 1);
      }
      await publishConfirmed(ch, EXCHANGES.work, ROUTING.work, content, { ...props, persistent: true });
    }
    const malformedCount = [...expectedMalformed.values()].reduce((a, b) => a + b, 0);
    t.diagnostic(`${samples.length} messages, ${malformedCount} malformed by the schema`);

    await waitFor(
      'notes.jobs drained',
      async () => (await queueDepths(product.ns.amqpUrl, [QUEUES.work]))[QUEUES.work]?.messages === 0,
      120_000,
      250,
    );
    // Everything the consumer parked, read back from the failure inbox: the API drains notes.dlq
    // into the database, where dead messages live (docs/jobs.md, "The failure inbox"). Each
    // malformed message is its own letter, however many share a body or a message_id.
    const malformedRows = async () => product.count('SELECT COUNT(*) AS n FROM dead_letters WHERE malformed = 1');
    await waitFor(
      'every malformed message filed',
      async () =>
        (await malformedRows()) >= malformedCount &&
        (await queueInfo(product.ns.vhost, QUEUES.dead)).messages === 0 /* ready and unacked */,
      60_000,
      250,
    ).catch(() => {}); // the exact comparison below says what is missing
    const rows = await product.query<{ body: string; malformed: number; reason: string }>(
      'SELECT body, malformed, reason FROM dead_letters',
    );
    const got = new Map<string, number>();
    for (const row of rows) {
      const content = Buffer.from(row.body, 'base64');
      if (row.malformed) {
        assert.match(row.reason, /^malformed: /);
        got.set(row.body, (got.get(row.body) ?? 0) + 1);
      } else {
        // Only a schema-valid message may die otherwise (e.g. an attempt header the API refuses).
        assert.ok(decodeJobMessage(content).ok, `a malformed message dead-lettered as ${row.reason}`);
        assert.doesNotMatch(row.reason, /^malformed/);
      }
    }
    t.diagnostic(`${malformedCount} malformed sent, ${rows.filter((r) => r.malformed).length} letters filed`);
    assert.deepEqual(got, expectedMalformed, 'each malformed message filed once, body unchanged');
    assert.equal(await snapshot(), before, "hostile messages changed someone's data");
  } finally {
    await close();
  }

  // Still consuming: a real note goes through.
  const [user] = await registerUsers(product.apiUrl, 1, 'msg');
  const created = await request(product.apiUrl, 'POST', '/api/notes', {
    token: user!.token,
    body: { title: 'after the storm', body: '#fine' },
  });
  assert.equal(created.status, 201);
  const id = (created.json as { id: string }).id;
  await waitFor('processed', async () => {
    const res = await request(product.apiUrl, 'GET', `/api/notes/${id}`, { token: user!.token });
    return (res.json as { status: string }).status === 'processed';
  });
  assert.deepEqual(product.crashes(), [], 'the consumer never stopped');
  assert.ok(product.consumers.every((c) => c.running));
});
