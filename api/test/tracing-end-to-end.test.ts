import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { SPAN_ATTRIBUTES } from '@notes/contracts';
import { createTestNamespace, freePort, type TestNamespace } from '@notes/contracts/testing';
import mysql from 'mysql2/promise';
import {
  attr,
  type OtlpSink,
  type ReceivedSpan,
  type Service,
  SPAN_KIND,
  spawnService,
  startOtlpSink,
} from './otlp-sink.ts';

/**
 * Issue 5's must-show: the product runs as in production (API and one consumer as their own
 * processes, each with the tracing preload) and exports OTLP/HTTP JSON to a sink on loopback.
 * One write — a note whose owner has a webhook endpoint — must come out as ONE trace:
 *
 *   POST /api/notes (server, root)
 *   └ publish (relay, from the outbox row's traceparent)
 *     └ notes.jobs process (note.process)
 *       ├ POST /internal/jobs/:id/start  (client) → API server span
 *       └ POST /internal/jobs/:id/complete (client) → API server span
 *         └ publish (relay, from the webhook.deliver outbox row written in /complete)
 *           └ notes.jobs process (webhook.deliver)
 *             ├ /start → API, POST <receiver> (the webhook), /complete → API
 *
 * and every span's parent is a span of that trace. The same run checks the logs: trace ids and
 * job/note ids on the lines, and no token or secret anywhere.
 */
const API_DIR = fileURLToPath(new URL('..', import.meta.url));
const CONSUMERS_DIR = fileURLToPath(new URL('../../consumers', import.meta.url));

let ns: TestNamespace;
let sink: OtlpSink;
let receiver: http.Server;
let receiverUrl: string;
const deliveries: { headers: http.IncomingHttpHeaders; body: string }[] = [];
let api: Service;
let consumer: Service;
let apiUrl: string;
const jwtSecret = randomBytes(24).toString('hex');

before(async () => {
  ns = await createTestNamespace('trace_e2e');
  sink = await startOtlpSink();
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      deliveries.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

  const port = await freePort();
  apiUrl = `http://127.0.0.1:${port}`;
  const env = {
    ...ns.env,
    // development: request logging on; debug: the per-job lines too, and every line is checked for secrets.
    NODE_ENV: 'development',
    LOG_LEVEL: 'debug',
    JWT_SECRET: jwtSecret,
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
    OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '200',
  };
  api = spawnService(API_DIR, { ...env, HOST: '127.0.0.1', PORT: String(port) });
  await waitFor('the API', async () => (await fetch(`${apiUrl}/health`).catch(() => null))?.ok === true, 60_000);
  consumer = spawnService(CONSUMERS_DIR, { ...env, API_URL: apiUrl, CONSUMER_PORT: '0' });
});

after(async () => {
  await Promise.all([consumer?.stop(), api?.stop()]);
  receiver?.closeAllConnections();
  receiver?.close();
  await sink?.close();
  await ns?.cleanup();
});

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const p of [api, consumer]) {
      if (p && (p.exitCode !== null || p.signalCode !== null)) {
        throw new Error(`a process exited while waiting for ${what}:\n${p.output().slice(-4000)}`);
      }
    }
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(
    `timed out waiting for ${what}\n--- api:\n${api?.output().slice(-3000)}\n--- consumer:\n${consumer?.output().slice(-3000)}`,
  );
}

async function post(path: string, body: unknown, token?: string) {
  const res = await fetch(`${apiUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

type JobRow = { id: string; kind: string; status: string };

async function jobsOf(noteId: string): Promise<JobRow[]> {
  const conn = await mysql.createConnection(ns.databaseUrl);
  try {
    const [rows] = await conn.query('SELECT id, kind, status FROM jobs WHERE note_id = ? ORDER BY id', [noteId]);
    return rows as JobRow[];
  } finally {
    await conn.end();
  }
}

const logLines = (out: string) =>
  out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test('one write is one trace across the API, the outbox, RabbitMQ, the consumer, the callbacks and the webhook', async () => {
  const password = `pw-${randomBytes(8).toString('hex')}`;
  const reg = await post('/api/auth/register', {
    name: 'Tracer',
    email: `trace-${randomBytes(4).toString('hex')}@example.test`,
    password,
  });
  assert.equal(reg.status, 201, JSON.stringify(reg.json));
  const token = reg.json.token as string;
  assert.match(token, /^eyJ/);
  const hook = await post('/api/webhooks', { url: receiverUrl }, token);
  assert.equal(hook.status, 201, JSON.stringify(hook.json));
  const webhookSecret = hook.json.secret as string;
  assert.match(webhookSecret, /^whsec_.{20,}/);

  const created = await post('/api/notes', { title: 'traced', body: 'follow me #trace', priority: 'high' }, token);
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const noteId = created.json.id as string;

  await waitFor('the webhook delivery', () => deliveries.length >= 1);
  let jobs: JobRow[] = [];
  await waitFor('both jobs processed', async () => {
    jobs = await jobsOf(noteId);
    return jobs.length === 2 && jobs.every((j) => j.status === 'processed');
  });
  const processJob = jobs.find((j) => j.kind === 'note.process')!;
  const deliverJob = jobs.find((j) => j.kind === 'webhook.deliver')!;
  assert.ok(processJob && deliverJob, JSON.stringify(jobs));

  // A clean stop flushes every ended span (both main.ts call shutdownTelemetry last).
  await Promise.all([consumer.stop(), api.stop()]);
  assert.equal(consumer.exitCode, 0, consumer.output().slice(-2000));
  assert.equal(api.exitCode, 0, api.output().slice(-2000));

  // ---- the trace
  const { spans } = sink;
  const isPostNotes = (s: ReceivedSpan) =>
    s.service === 'notes-api' &&
    s.kind === SPAN_KIND.server &&
    s.scope === '@opentelemetry/instrumentation-http' &&
    attr(s, 'http.request.method') === 'POST' &&
    attr(s, 'url.path') === '/api/notes';
  const roots = spans.filter(isPostNotes);
  assert.equal(roots.length, 1, `POST /api/notes server spans: ${roots.length}`);
  const root = roots[0]!;
  assert.ok(!root.parentSpanId, 'the request span is the root');
  const traceId = root.traceId;
  const inTrace = spans.filter((s) => s.traceId === traceId);
  const byId = new Map(inTrace.map((s) => [s.spanId, s]));
  const describe = (s: ReceivedSpan) => `${s.service} ${s.scope} ${s.name} (${s.spanId} ← ${s.parentSpanId ?? 'root'})`;
  const dump = () => inTrace.map(describe).join('\n');

  // Every link resolves inside the trace; only the request span has no parent.
  for (const s of inTrace) {
    if (s === root) continue;
    assert.ok(s.parentSpanId && byId.has(s.parentSpanId), `dangling parent: ${describe(s)}\n${dump()}`);
  }
  const isUnder = (s: ReceivedSpan, ancestor: ReceivedSpan) => {
    for (let p = s.parentSpanId && byId.get(s.parentSpanId); p; p = p.parentSpanId && byId.get(p.parentSpanId)) {
      if (p === ancestor) return true;
    }
    return false;
  };
  const one = (what: string, match: (s: ReceivedSpan) => boolean) => {
    const found = inTrace.filter(match);
    assert.equal(found.length, 1, `${what}: ${found.length} spans in the trace\n${dump()}`);
    return found[0]!;
  };

  for (const job of [processJob, deliverJob]) {
    const publish = one(
      `publish of ${job.kind}`,
      (s) => s.service === 'notes-api' && s.kind === SPAN_KIND.producer && attr(s, 'messaging.message_id') === job.id,
    );
    assert.ok(isUnder(publish, root), `publish of ${job.kind} is not under the request`);
    const consume = one(
      `consume of ${job.kind}`,
      (s) =>
        s.service === 'notes-consumers' && s.kind === SPAN_KIND.consumer && attr(s, 'messaging.message_id') === job.id,
    );
    assert.equal(consume.parentSpanId, publish.spanId, `the consume of ${job.kind} is the publish's child`);
    assert.equal(attr(consume, SPAN_ATTRIBUTES.jobId), job.id);
    assert.equal(attr(consume, SPAN_ATTRIBUTES.noteId), noteId);
    assert.equal(attr(consume, SPAN_ATTRIBUTES.jobKind), job.kind);
    assert.equal(attr(consume, SPAN_ATTRIBUTES.priority), 'high');
    assert.equal(attr(consume, SPAN_ATTRIBUTES.attempt), '1');

    for (const op of ['start', 'complete']) {
      const path = `/internal/jobs/${job.id}/${op}`;
      const client = one(
        `${op} callback of ${job.kind}`,
        (s) =>
          s.service === 'notes-consumers' && s.kind === SPAN_KIND.client && (attr(s, 'url.full') ?? '').endsWith(path),
      );
      assert.ok(isUnder(client, consume), `the ${op} callback runs inside the consume span`);
      const server = one(
        `API span of ${op} for ${job.kind}`,
        (s) =>
          s.service === 'notes-api' &&
          s.kind === SPAN_KIND.server &&
          s.scope === '@opentelemetry/instrumentation-http' &&
          attr(s, 'url.path') === path,
      );
      assert.equal(server.parentSpanId, client.spanId, `the API continues the ${op} callback's trace`);
      if (job === processJob && op === 'complete') {
        // The webhook job was enqueued in /complete's transaction; its trace continues from there.
        const next = one(
          'publish of webhook.deliver',
          (s) => s.kind === SPAN_KIND.producer && attr(s, 'messaging.message_id') === deliverJob.id,
        );
        assert.ok(isUnder(next, server), 'the webhook job is published under the complete callback');
      }
    }
  }

  const deliverConsume = one('consume of webhook.deliver', (s) => attr(s, SPAN_ATTRIBUTES.jobId) === deliverJob.id);
  const webhookCall = one(
    'the webhook call',
    (s) => s.service === 'notes-consumers' && s.kind === SPAN_KIND.client && attr(s, 'url.full') === receiverUrl,
  );
  assert.ok(isUnder(webhookCall, deliverConsume), 'the webhook call runs inside its job');
  // The receiver saw the same trace (W3C traceparent on the delivery).
  assert.match(String(deliveries[0]?.headers.traceparent), new RegExp(`^00-${traceId}-${webhookCall.spanId}-0[01]$`));

  // ---- the logs
  const apiLines = logLines(api.output());
  const consumerLines = logLines(consumer.output());
  const spanIds = new Set(inTrace.map((s) => s.spanId));
  for (const job of [processJob, deliverJob]) {
    const lines = consumerLines.filter((l) => l.job_id === job.id);
    assert.ok(lines.length > 0, `no consumer log line names job ${job.kind}:\n${consumer.output().slice(-3000)}`);
    for (const l of lines) {
      assert.equal(l.note_id, noteId, `consumer line without note_id: ${JSON.stringify(l)}`);
      assert.equal(l.trace_id, traceId, `consumer line outside the trace: ${JSON.stringify(l)}`);
      assert.ok(spanIds.has(String(l.span_id)), `consumer line with an unknown span: ${JSON.stringify(l)}`);
    }
  }
  const apiTraced = apiLines.filter((l) => l.trace_id === traceId);
  assert.ok(apiTraced.length > 0, `no API log line carries the trace id:\n${api.output().slice(-3000)}`);
  assert.ok(apiTraced.every((l) => spanIds.has(String(l.span_id))));
  assert.ok(
    apiTraced.some((l) => typeof l.request_id === 'string' && l.request_id.length > 0),
    'API request lines carry request_id',
  );

  // No token, secret or password in any line (the consumer's service token is a JWT too).
  for (const [name, out] of [
    ['api', api.output()],
    ['consumer', consumer.output()],
  ] as const) {
    for (const [what, value] of [
      ['the bearer token', token],
      ['the webhook secret', webhookSecret],
      ['the webhook secret key', webhookSecret.replace(/^whsec_/, '')],
      ['JWT_SECRET', jwtSecret],
      ['the password', password],
    ] as const) {
      assert.ok(!out.includes(value), `${name} logged ${what}`);
    }
    assert.doesNotMatch(out, /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/, `${name} logged a JWT`);
  }
});
