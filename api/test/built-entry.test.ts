import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createTestNamespace, freePort, type TestNamespace } from '@notes/contracts/testing';
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
 * Production runs the esbuild bundles (scripts/build.ts), not the source under tsx: `npm start`
 * and the images run `node [--import ./dist/telemetry.js] dist/main.js`. The other process tests
 * run the source; this one runs the built files exactly as each Dockerfile's CMD says, and shows
 * that the bundle starts, finds its migrations and the console, and that the tracing preload
 * still instruments the packages the bundle imports from node_modules (http, fastify, mysql2,
 * amqplib) in both processes, in one trace.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const API_DIR = `${ROOT}api`;
const CONSUMERS_DIR = `${ROOT}consumers`;

/** The CMD of a workspace's Dockerfile, with `node` as this node. */
function dockerCmd(workspace: string): string[] {
  const file = readFileSync(`${ROOT}${workspace}/Dockerfile`, 'utf8');
  const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(file)?.[1] ?? '[]') as string[];
  assert.equal(cmd[0], 'node', `${workspace}/Dockerfile CMD runs node`);
  return cmd.slice(1);
}

let ns: TestNamespace;
let sink: OtlpSink;
const running: Service[] = [];

before(() => {
  // What npm start does first; a no-op when the bundles are up to date.
  const build = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/build.ts', '--if-stale', 'api', 'consumers'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  assert.equal(build.status, 0, build.stderr);
});

before(async () => {
  ns = await createTestNamespace('built');
  sink = await startOtlpSink();
});

after(async () => {
  await Promise.all(running.map((s) => s.stop()));
  await sink?.close();
  await ns?.cleanup();
});

// A bound on waiting, not a measure: on a 2-core machine at load average 35 a process took over
// 60 s to be ready; the tests assert what the processes do, never how fast.
async function waitFor(what: string, procs: Service[], check: () => Promise<boolean>, timeoutMs = 180_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const p of procs) {
      if (p.exitCode !== null || p.signalCode !== null) {
        throw new Error(`a process exited while waiting for ${what}:\n${p.output().slice(-4000)}`);
      }
    }
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}\n${procs.map((p) => p.output().slice(-3000)).join('\n---\n')}`);
}

const status = async (url: string) => (await fetch(url).catch(() => null))?.status ?? 0;

test('the built API runs without the preload (npm start with tracing off): ready, migrated, serving the console', async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = dockerCmd('api').filter((a, i, all) => a !== '--import' && all[i - 1] !== '--import');
  assert.deepEqual(args.slice(-1), ['dist/main.js']);
  const api = spawnService(API_DIR, { ...ns.env, HOST: '127.0.0.1', PORT: String(port) }, args);
  running.push(api);
  await waitFor('/health/ready', [api], async () => (await status(`${url}/health/ready`)) === 200);
  // The bundle resolves the console relative to its source (admin-static.ts), as from source.
  const built = existsSync(`${ROOT}admin/dist/index.html`);
  assert.equal(await status(`${url}/admin/`), built ? 200 : 503);
  await api.stop();
  assert.equal(api.exitCode, 0, api.output().slice(-2000));
});

test('the built API and consumer, with the tracing preload, trace one write across both processes', async () => {
  const port = await freePort();
  const apiUrl = `http://127.0.0.1:${port}`;
  const env = {
    ...ns.env,
    JWT_SECRET: randomBytes(24).toString('hex'),
    OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '200',
  };
  const api = spawnService(API_DIR, { ...env, HOST: '127.0.0.1', PORT: String(port) }, dockerCmd('api'));
  running.push(api);
  await waitFor('the API', [api], async () => (await status(`${apiUrl}/health/ready`)) === 200);
  const consumer = spawnService(CONSUMERS_DIR, { ...env, API_URL: apiUrl, CONSUMER_PORT: '0' }, dockerCmd('consumers'));
  running.push(consumer);

  const post = async (path: string, body: unknown, token?: string) => {
    const res = await fetch(`${apiUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  const reg = await post('/api/auth/register', {
    name: 'Built',
    email: `built-${randomBytes(4).toString('hex')}@example.test`,
    password: `pw-${randomBytes(8).toString('hex')}`,
  });
  assert.equal(reg.status, 201, JSON.stringify(reg.json));
  const token = reg.json.token as string;
  const created = await post('/api/notes', { title: 'built', body: 'from the bundle #dist' }, token);
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const noteId = created.json.id as string;
  await waitFor('the note processed', [api, consumer], async () => {
    const res = await fetch(`${apiUrl}/api/notes/${noteId}`, { headers: { authorization: `Bearer ${token}` } });
    return ((await res.json()) as { status?: string }).status === 'processed';
  });

  // A clean stop flushes every span (main.ts calls shutdownTelemetry last).
  await Promise.all([consumer.stop(), api.stop()]);
  assert.equal(consumer.exitCode, 0, consumer.output().slice(-2000));
  assert.equal(api.exitCode, 0, api.output().slice(-2000));

  const root = sink.spans.find(
    (s) =>
      s.service === 'notes-api' &&
      s.kind === SPAN_KIND.server &&
      attr(s, 'http.request.method') === 'POST' &&
      attr(s, 'url.path') === '/api/notes',
  );
  assert.ok(root, `no server span for POST /api/notes among ${sink.spans.length} spans`);
  const inTrace = sink.spans.filter((s) => s.traceId === root.traceId);
  const dump = () => inTrace.map((s) => `${s.service} ${s.scope} ${s.name}`).join('\n');
  const has = (what: string, match: (s: ReceivedSpan) => boolean) =>
    assert.ok(inTrace.some(match), `${what}\n${dump()}`);
  has('fastify (@fastify/otel)', (s) => s.service === 'notes-api' && s.scope === '@fastify/otel');
  has('mysql2', (s) => s.service === 'notes-api' && s.scope === '@opentelemetry/instrumentation-mysql2');
  has('the relay publish', (s) => s.service === 'notes-api' && s.kind === SPAN_KIND.producer);
  has('the consumer', (s) => s.service === 'notes-consumers' && s.kind === SPAN_KIND.consumer);
  has('the consumer callback', (s) => s.service === 'notes-consumers' && s.kind === SPAN_KIND.client);
});
