import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { type FuzzTarget, startFuzzTarget } from '../../src/fuzz-app.ts';
import { HOSTILE_STRINGS, INVALID_UTF8 } from '../../src/hostile.ts';
import { type RawAnswer, rawRequest, type SlowClient, slowClient } from '../../src/raw-http.ts';

/**
 * Hostile clients on real sockets, against the app listening on loopback: raw bytes in the
 * request line and headers, smuggling-shaped framing, oversized headers and values, invalid
 * UTF-8, and slow clients that dribble a request and stall. Never a 5xx, never a crash; the
 * server times stalled requests out by itself and keeps serving everyone else meanwhile; and
 * none of it changes a row.
 */
let f: FuzzTarget;
let port: number;
let before0 = '';
const slow: { name: string; client: SlowClient }[] = [];
let sent = 0;

before(async () => {
  f = await startFuzzTarget('fuzzwire');
  await f.t.app.listen({ port: 0, host: '127.0.0.1' });
  port = (f.t.app.server.address() as AddressInfo).port;
  before0 = await f.snapshot();
  // The slow clients start first and stall while the rest of this file runs.
  const head = 'POST /api/notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Slow: ';
  for (let i = 0; i < 6; i++)
    slow.push({ name: `headers byte by byte #${i}`, client: slowClient(port, Buffer.from(head), 100) });
  const withBody = `POST /api/notes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${f.tokens.user}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"title":"`;
  for (let i = 0; i < 3; i++)
    slow.push({ name: `body byte by byte #${i}`, client: slowClient(port, Buffer.from(withBody), 20) });
  slow.push({ name: 'silent connection', client: slowClient(port, Buffer.alloc(0), 100) });
});

after(async () => {
  for (const s of slow) s.client.destroy();
  await f?.close();
});

/** Lone surrogates replaced (what UTF-8 encoding would do anyway; encodeURI throws on them). */
const wellFormed = (s: string) => Buffer.from(s, 'utf8').toString('utf8');

/** A complete request; the server closes after answering. */
function req(method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string): Buffer {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  const payload = typeof body === 'string' ? Buffer.from(body) : body;
  if (payload && !('Transfer-Encoding' in headers) && !('Content-Length' in headers))
    lines.push(`Content-Length: ${payload.length}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload ?? Buffer.alloc(0)]);
}

async function send(what: string, bytes: Buffer): Promise<RawAnswer> {
  sent++;
  const answer = await rawRequest(port, bytes, 10_000);
  // An answer on a connection kept alive is fine; silence on an open connection is not.
  assert.ok(!answer.timedOut || answer.status !== null, `${what}: no answer and no close within 10 s`);
  assert.ok(answer.status === null || answer.status < 500, `${what} → ${answer.head.slice(0, 300)}`);
  return answer;
}

async function healthy(): Promise<void> {
  const answer = await send('health', req('GET', '/health'));
  assert.equal(answer.status, 200, 'the server keeps serving');
}

test('oversized headers: 431 or a clean close, never a 5xx; the server stays healthy', async () => {
  const big = (n: number) => 'a'.repeat(n);
  const cases: [string, Buffer][] = [
    ['one 20 KB header', req('GET', '/api/notes', { 'X-Big': big(20_000) })],
    ['one 1 MB header', req('GET', '/api/notes', { 'X-Big': big(1_000_000) })],
    [
      'a 20 KB Idempotency-Key',
      req(
        'POST',
        '/api/notes',
        {
          'Idempotency-Key': big(20_000),
          Authorization: `Bearer ${f.tokens.user}`,
          'Content-Type': 'application/json',
        },
        '{"title":"x"}',
      ),
    ],
    [
      'a 12 KB Idempotency-Key',
      req(
        'POST',
        '/api/notes',
        {
          'Idempotency-Key': big(12_000),
          Authorization: `Bearer ${f.tokens.user}`,
          'Content-Type': 'application/json',
        },
        '{"title":"x"}',
      ),
    ],
    ['a 20 KB bearer token', req('GET', '/api/auth/me', { Authorization: `Bearer ${big(20_000)}` })],
    [
      '2,000 headers',
      req('GET', '/api/notes', Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`X-H${i}`, 'v']))),
    ],
    ['a 100 KB URL', req('GET', `/api/notes?q=${big(100_000)}`)],
    ['a 100 KB path', req('GET', `/api/notes/${big(100_000)}`)],
  ];
  for (const [what, bytes] of cases) {
    const answer = await send(what, bytes);
    assert.ok(answer.status === null || answer.status < 500, what);
    if (answer.status !== null && answer.status >= 400 && what.includes('header')) {
      assert.ok([400, 401, 413, 431].includes(answer.status), `${what} → ${answer.status}`);
    }
  }
  await healthy();
});

test('broken framing and request lines: 4xx or a clean close', async () => {
  const token = f.tokens.user;
  const cases: [string, string][] = [
    ['garbage', 'GARBAGE\r\n\r\n'],
    ['no version', 'GET /health\r\n\r\n'],
    ['HTTP/9.9', 'GET /health HTTP/9.9\r\nHost: x\r\n\r\n'],
    ['HTTP/2.0 over HTTP/1', 'GET /health HTTP/2.0\r\nHost: x\r\n\r\n'],
    ['lower-case method', 'get /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
    ['NUL in the method', 'G\0T /health HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['long method', `${'A'.repeat(5000)} /health HTTP/1.1\r\nHost: x\r\n\r\n`],
    ['absolute-form', 'GET http://evil.example/api/admin/users HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
    ['asterisk-form', 'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
    ['CONNECT', 'CONNECT 127.0.0.1:3306 HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['space in the path', 'GET /api/ notes HTTP/1.1\r\nHost: x\r\n\r\n'],
    [
      'CL and TE (smuggling)',
      `POST /api/notes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /api/admin/users HTTP/1.1\r\nHost: x\r\n\r\n`,
    ],
    [
      'two Content-Lengths',
      `POST /api/notes HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\nContent-Length: 5\r\n\r\n{"title":"x"}`,
    ],
    ['Content-Length 1, 2', 'POST /api/notes HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\nxx'],
    ['negative Content-Length', 'POST /api/notes HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n'],
    [
      'huge Content-Length',
      'POST /api/notes HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 99999999999999999999\r\n\r\n{}',
    ],
    [
      'bad chunk size',
      `POST /api/notes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n`,
    ],
    ['TE gzip, chunked', 'POST /api/notes HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n'],
    ['header without a colon', 'GET /health HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n'],
    ['space before the colon', 'GET /health HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n'],
    ['obs-fold', 'GET /health HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n'],
    ['bare LF', 'GET /health HTTP/1.1\nHost: x\nConnection: close\n\n'],
    ['CR without LF', 'GET /health HTTP/1.1\rHost: x\r\r'],
    ['no Host', 'GET /health HTTP/1.1\r\nConnection: close\r\n\r\n'],
    ['two Hosts', 'GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n'],
    [
      'Expect: 100-continue then nothing',
      `POST /api/notes HTTP/1.1\r\nHost: x\r\nConnection: close\r\nExpect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n`,
    ],
    [
      'gzip body that is not gzip',
      `POST /api/notes HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: 13\r\n\r\n{"title":"x"}`,
    ],
  ];
  for (const [what, text] of cases) await send(what, Buffer.from(text, 'latin1'));
  await healthy();
});

test('invalid UTF-8 and raw high bytes in paths, headers and bodies over the wire: never a 5xx', async () => {
  for (const bad of INVALID_UTF8) {
    const path = Buffer.concat([
      Buffer.from('GET /api/notes/'),
      bad,
      Buffer.from(' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n'),
    ]);
    await send(
      'raw bytes in the path',
      Buffer.concat([path, Buffer.from(`Authorization: Bearer ${f.tokens.user}\r\n\r\n`)]),
    );
    const header = Buffer.concat([
      Buffer.from('GET /api/auth/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer '),
      bad,
      Buffer.from('\r\n\r\n'),
    ]);
    await send('raw bytes in Authorization', header);
    const key = Buffer.concat([
      Buffer.from(
        'POST /api/notes HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 2\r\nIdempotency-Key: k',
      ),
      bad,
      Buffer.from('\r\n\r\n{}'),
    ]);
    await send('raw bytes in Idempotency-Key', key);
    for (const route of ['/api/auth/login', '/api/auth/register']) {
      const body = Buffer.concat([
        Buffer.from('{"email":"a'),
        bad,
        Buffer.from('@b.c","password":"pw-123456","name":"n'),
        bad,
        Buffer.from('"}'),
      ]);
      await send(`raw bytes in a ${route} body`, req('POST', route, { 'Content-Type': 'application/json' }, body));
    }
  }
  await healthy();
});

test('fuzzed raw requests: any method, path, header and body bytes: never a 5xx, nothing written', async (t) => {
  const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND', 'BREW'];
  const PATHS = [
    '/api/notes',
    '/api/notes/x',
    '/api/auth/login',
    '/api/auth/register',
    '/api/webhooks',
    '/api/events',
    '/api/admin/users',
    '/internal/jobs/x/start',
    '/health',
    '/docs/json',
    '/admin/',
    '/metrics',
  ];
  const bytes = fc.uint8Array({ maxLength: 24 }).map((a) => Buffer.from(a));
  const text = fc.oneof(
    fc.constantFrom(...HOSTILE_STRINGS.filter((s) => s.length < 2000)),
    fc.string({ maxLength: 30 }),
  );
  const arb = fc.record({
    method: fc.constantFrom(...METHODS),
    path: fc.constantFrom(...PATHS),
    pathTail: fc.oneof(
      fc.constant(Buffer.alloc(0)),
      bytes,
      text.map((s) => Buffer.from(encodeURI(wellFormed(s)))),
    ),
    headers: fc.array(
      fc.tuple(
        fc.constantFrom(
          'Authorization',
          'Content-Type',
          'Idempotency-Key',
          'If-Match',
          'Last-Event-ID',
          'Accept',
          'X-Request-Id',
          'Cookie',
          'Origin',
          'X-Forwarded-For',
        ),
        fc.oneof(
          text.map((s) => Buffer.from(wellFormed(s), 'utf8')),
          bytes,
        ),
      ),
      { maxLength: 4 },
    ),
    body: fc.oneof(
      fc.constant(Buffer.alloc(0)),
      bytes,
      text.map((s) => Buffer.from(wellFormed(s), 'utf8')),
      fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v))),
    ),
  });
  const clean = (b: Buffer) => Buffer.from(b.map((c) => (c === 13 || c === 10 ? 32 : c)));
  await fc.assert(
    fc.asyncProperty(arb, async (r) => {
      const head = [
        Buffer.from(`${r.method} ${r.path}`),
        clean(r.pathTail).filter((c) => c !== 32),
        Buffer.from(' HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n'),
        ...r.headers.map(([k, v]) => Buffer.concat([Buffer.from(`${k}: `), clean(v), Buffer.from('\r\n')])),
        Buffer.from(`Content-Length: ${r.body.length}\r\n\r\n`),
      ];
      await send(`${r.method} ${r.path}…`, Buffer.concat([...head.map((b) => Buffer.from(b)), r.body]));
      if (sent % 200 === 0) await healthy();
    }),
    {
      numRuns: Number(process.env.FUZZ_WIRE_RUNS ?? 2000),
      includeErrorInReport: true,
      interruptAfterTimeLimit: 180_000,
      markInterruptAsFailure: true,
    },
  );
  t.diagnostic(`${sent} raw requests so far`);
});

test('slow clients are timed out by the server, which kept serving meanwhile; no request changed a row', async (t) => {
  await healthy();
  const results = await Promise.all(
    slow.map(async ({ name, client }) => {
      let timer: NodeJS.Timeout | undefined;
      const r = await Promise.race([
        client.result,
        new Promise<null>((resolve) => {
          // Node checks request and header timeouts every 30 s: a 30 s limit can take up to 60 s to bite.
          timer = setTimeout(() => resolve(null), 90_000);
        }),
      ]);
      clearTimeout(timer);
      return { name, r };
    }),
  );
  for (const { name, r } of results) {
    assert.ok(r, `${name}: still open after 90 s`);
    assert.ok(r.status === null || r.status === 408 || r.status === 400, `${name} → ${r.head}`);
  }
  t.diagnostic(
    results
      .map(({ name, r }) => `${name}: ${r?.status ?? 'closed'} after ${Math.round((r?.ms ?? 0) / 1000)} s`)
      .join('; '),
  );
  await healthy();
  assert.equal(await f.snapshot(), before0, 'a rejected request changed a row');
});

test('the fuzzing reached its volume', () => {
  assert.ok(sent >= Number(process.env.FUZZ_WIRE_RUNS ?? 2000), `${sent} raw requests`);
});

test('a body in a Content-Encoding the API does not decode is refused (415), not read as if plain', async () => {
  for (const coding of ['gzip', 'br', 'x-unknown']) {
    const answer = await send(
      `Content-Encoding: ${coding}`,
      req(
        'POST',
        '/api/notes',
        { Authorization: `Bearer ${f.tokens.user}`, 'Content-Type': 'application/json', 'Content-Encoding': coding },
        '{"title":"labelled as encoded"}',
      ),
    );
    assert.equal(answer.status, 415, `${coding}: ${answer.head.split('\r\n')[0]}`);
  }
});
