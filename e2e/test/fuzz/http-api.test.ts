import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { searchWords } from '../../../api/src/platform/db/fulltext.ts';
import { Breaches, checkAnswer, type FuzzTarget, startFuzzTarget } from '../../src/fuzz-app.ts';
import { buildRequest, pct, ROUTES, requestArb, type TokenKind, WRITES } from '../../src/fuzz-requests.ts';
import { hostileString, invalidUtf8Body, MALFORMED_JSON } from '../../src/hostile.ts';

/**
 * Property-based fuzzing of every route and header through the real app (in process, app.inject:
 * the transport does not matter here; http-wire.test.ts covers what does). Each request is a
 * route with hostile ids, query parameters, headers, identities, content types and bodies. Every
 * answer must be below 500 and, when it is an error, problem+json that leaks nothing; a rejected
 * write must leave every table exactly as it was.
 */
let f: FuzzTarget;
let sent = 0;
let rejectedWrites = 0;
let acceptedWrites = 0;
const breaches = new Breaches();

before(async () => {
  f = await startFuzzTarget('fuzzhttp');
});
after(async () => {
  await f?.close();
});

async function send(options: InjectOptions & { method: string; url: string }) {
  const write = WRITES.has(options.method);
  const before = write ? await f.snapshot() : '';
  sent++;
  let timer: NodeJS.Timeout | undefined;
  const res = await Promise.race([
    f.t.app.inject(options),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within 10 s: ${options.method} ${options.url}`)), 10_000);
    }),
  ]).finally(() => clearTimeout(timer));
  const what = `${options.method} ${options.url.slice(0, 200)} [${JSON.stringify(options.headers).slice(0, 300)}]`;
  breaches.add(checkAnswer(what, res, options.method), what);
  if (write && res.statusCode >= 400) {
    rejectedWrites++;
    assert.equal(await f.snapshot(), before, `${what} → ${res.statusCode} but changed a table`);
  } else if (write) {
    acceptedWrites++;
  }
  return res;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

const RUNS = Number(process.env.FUZZ_HTTP_RUNS ?? 8000);

test(`${RUNS} fuzzed requests over every route and header: no 5xx, rejections change nothing`, async (t) => {
  await fc.assert(
    fc.asyncProperty(requestArb, async (r) => {
      await send(buildRequest(f, r));
    }),
    { numRuns: RUNS, interruptAfterTimeLimit: 300_000, markInterruptAsFailure: true, includeErrorInReport: true },
  );
  t.diagnostic(`${sent} requests so far; writes rejected ${rejectedWrites}, accepted ${acceptedWrites}`);
});

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const validTitle = hostileString.filter((v) => {
  const n = [...v.trim()].length;
  return n >= 1 && n <= 200 && !LONE_SURROGATE.test(v);
});
const validBody = fc
  .oneof(hostileString, fc.string({ unit: 'grapheme', maxLength: 300 }))
  .filter((v) => !LONE_SURROGATE.test(v));

test('hostile but valid content (injection strings, control characters, emoji) is stored and read back verbatim', async () => {
  await fc.assert(
    fc.asyncProperty(
      validTitle,
      validBody,
      fc.constantFrom('low', 'normal', 'high', 'critical', 'max'),
      async (title, body, priority) => {
        const auth = { authorization: `Bearer ${f.tokens.user}` };
        const created = await send({
          method: 'POST',
          url: '/api/notes',
          headers: auth,
          payload: { title, body, priority },
        });
        assert.equal(created.statusCode, 201, created.body);
        const got = await send({ method: 'GET', url: `/api/notes/${created.json().id}`, headers: auth });
        assert.equal(got.json().title, title.trim());
        assert.equal(got.json().body, body);
        const q = [...title.trim()].slice(0, 50).join('');
        const found = await send({ method: 'GET', url: `/api/notes?q=${pct(q)}`, headers: auth });
        assert.equal(found.statusCode, 200, found.body);
        // Search is by word (docs/data.md): a title with a plain word the index holds finds its
        // note; any other query must still answer, never fail.
        const words = searchWords(q);
        if (words.length > 0 && words.every((w) => /^[a-z0-9_]+$/.test(w)) && !/[\p{L}\p{N}_]{85,}/u.test(title)) {
          assert.ok(found.json().total >= 1, `q=${q} finds the note`);
        }
      },
    ),
    {
      numRuns: Number(process.env.FUZZ_VALID_RUNS ?? 300),
      includeErrorInReport: true,
      interruptAfterTimeLimit: 120_000,
      markInterruptAsFailure: true,
    },
  );
});

test('every malformed JSON text and invalid UTF-8 body on every write route: 4xx problem+json, nothing changes', async () => {
  const writes = ROUTES.filter((r) => WRITES.has(r.method));
  const bodies: (string | Buffer)[] = [...MALFORMED_JSON, ...fc.sample(invalidUtf8Body, 20)];
  for (const route of writes) {
    const kind: TokenKind = route.path.startsWith('/internal')
      ? 'service'
      : route.path.startsWith('/api/admin')
        ? 'admin'
        : 'user';
    const url = route.path.replace(/:(note|job|webhook|user)/, (_, k: string) =>
      k === 'user' ? 'nobody' : f.ids[k as 'note'],
    );
    for (const payload of bodies) {
      const res = await send({
        method: route.method,
        url,
        headers: { authorization: `Bearer ${f.tokens[kind]}`, 'content-type': 'application/json' },
        payload,
      });
      // Malformed JSON is never accepted (a leading BOM may be ignored, RFC 8259 §8.1). Invalid
      // UTF-8 may be read with replacement characters, like any lenient decoder.
      if (typeof payload === 'string' && !isJson(payload.replace(/^\ufeff/, ''))) {
        assert.ok(res.statusCode >= 400, `${url} accepted ${payload.slice(0, 40)}`);
      }
    }
  }
});

test('an Idempotency-Key of every hostile shape, on every note write: 4xx or accepted once', async () => {
  const keys = [
    '',
    ' ',
    'k'.repeat(255),
    'k'.repeat(256),
    'k'.repeat(100_000),
    '\u00ff'.repeat(300),
    '%00',
    'a,b',
    '"quoted"',
  ];
  for (const key of keys) {
    for (const [method, url] of [
      ['POST', '/api/notes'],
      ['PATCH', `/api/notes/${f.ids.note}`],
      ['DELETE', `/api/notes/${f.ids.otherNote}`],
    ] as const) {
      const payload = method === 'DELETE' ? undefined : { title: `key ${key.length}` };
      const options = {
        method,
        url,
        headers: { authorization: `Bearer ${f.tokens.user}`, 'idempotency-key': key },
        payload,
      };
      const first = await send(options);
      if (key.length > 255) assert.equal(first.statusCode, 400, `${key.length}-char key`);
      if (first.statusCode < 300) {
        const again = await send(options);
        assert.equal(again.statusCode, first.statusCode);
        assert.equal(again.headers['idempotent-replayed'], 'true');
      }
    }
  }
});

test('the fuzzing reached the target volume', () => {
  assert.ok(sent >= RUNS, `${sent} requests`);
});

// docs/api.md, "Errors": every error is RFC 9457 problem details. Known breach (reported to the lead):
// Fastify's own router errors (a path parameter over 100 characters → 414, a malformed
// percent-encoding → 400) answer Fastify's default application/json; `frameworkErrors` in
// buildApp() would route them through the problem handler.
test('every error answered was problem+json and leaked nothing', () => {
  assert.equal(breaches.byKind.size, 0, `errors that were not clean problem+json:\n${breaches.report()}`);
});
