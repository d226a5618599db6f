import fc from 'fast-check';

/**
 * Hostile input for the fuzz tests, as fast-check arbitraries: strings an attacker or a broken
 * client sends (traversal, SQL/NoSQL injection, template and format strings, prototype keys,
 * control characters, lone surrogates, very long values), JSON bodies (arbitrary, near-valid
 * with hostile values, deeply nested, huge numbers), malformed JSON text, invalid UTF-8 bytes
 * and odd content types.
 */
export const HOSTILE_STRINGS = [
  '',
  ' ',
  '../../../../etc/passwd',
  '..%2f..%2f..%2fetc%2fpasswd',
  '%2e%2e%2f%2e%2e%2f',
  '....//....//',
  '..\\..\\windows\\win.ini',
  '/api/admin/users',
  "' OR '1'='1",
  "'; DROP TABLE notes; --",
  '" OR 1=1 --',
  "1' UNION SELECT password_hash FROM users --",
  "' OR SLEEP(5) --",
  '1 AND 1=BENCHMARK(10000000,SHA1(1))',
  '{"$gt":""}',
  '{"$where":"sleep(1000)"}',
  '[$ne]=1',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a template-injection probe, on purpose
  '${7*7}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  '%s%s%s%n',
  '__proto__',
  'constructor',
  'prototype',
  '\u0000',
  'a\u0000b',
  '\r\nX-Injected: 1',
  '\ud800',
  'x\udfffy',
  '\ufeff',
  '\u202e\u200b\u2066',
  '😀👩‍👩‍👧‍👦',
  'é'.repeat(300),
  'A'.repeat(256),
  'B'.repeat(10_000),
  '-1',
  '0',
  '1e309',
  'NaN',
  'Infinity',
  '9007199254740993',
  '99999999999999999999999999999999',
  '0x10',
  'null',
  'true',
  '[]',
  '{}',
  '"1"',
  '*',
  'W/"1"',
  '0-0',
  '18446744073709551616-0',
  '99999999999999999999-99999999999999999999',
];

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_STRINGS).map((s) => s.repeat(3)) },
);

/** Numbers JSON can carry that JavaScript or SQL may choke on. */
export const HUGE_NUMBER_TEXTS = [
  '1e309',
  '-1e309',
  '1e-400',
  '123456789012345678901234567890',
  '9007199254740993',
  '-0',
  '0.0000000000000000000000000001',
  '1'.repeat(400),
];

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 53 + 2, -(2 ** 63), 0.1),
  fc.array(hostileString, { maxLength: 4 }),
  fc.constant(null),
  fc.boolean(),
);

/** An object that uses the route's own field names (and a few more) with hostile values. */
export function nearValidBody(fields: readonly string[]): fc.Arbitrary<Record<string, unknown>> {
  const keys = fc.constantFrom(...fields, '__proto__', 'constructor', 'id', 'role', 'status', 'version', '$where');
  return fc.dictionary(keys, hostileValue, { maxKeys: 5 });
}

/** Nesting `depth` levels deep, as JSON text (objects and arrays alternating or not). */
export function deepJson(depth: number, kind: 'array' | 'object' | 'mixed', leafKey = 'title'): string {
  if (kind === 'array') return `${'['.repeat(depth)}1${']'.repeat(depth)}`;
  if (kind === 'object') return `${`{"${leafKey}":`.repeat(depth)}1${'}'.repeat(depth)}`;
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    open += i % 2 ? '[' : `{"${leafKey}":`;
    close = (i % 2 ? ']' : '}') + close;
  }
  return `${open}1${close}`;
}

export const MALFORMED_JSON = [
  '',
  ' ',
  '{',
  '}',
  '{"title":}',
  "{'title':'x'}",
  '{"title":"x",}',
  '{"title":"x"',
  '[1,2',
  'tru',
  'undefined',
  'NaN',
  '"unterminated',
  '{"title":"x"}garbage',
  '{"title":"x"}{"title":"y"}',
  '\u0000',
  '\ufeff{"title":"x"}',
  '{"title":"\\ud800"}',
  '{"title":"\\u00"}',
  '{"title":"x\\q"}',
  '{"__proto__":{"admin":true},"title":"x"}',
  '{"constructor":{"prototype":{"admin":true}}}',
  `{"title":${HUGE_NUMBER_TEXTS[0]}}`,
  `{"title":"x","priority":${HUGE_NUMBER_TEXTS[3]}}`,
  deepJson(10_000, 'array'),
  deepJson(10_000, 'object'),
  deepJson(10_000, 'mixed'),
  `{"title":${deepJson(10_000, 'array')}}`,
  `{"title":"x","body":${deepJson(5_000, 'object', 'a')}}`,
];

/** Bodies as raw text: malformed JSON, huge numbers, deep nesting, or JSON of near-valid objects. */
export function rawBody(fields: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...MALFORMED_JSON) },
    { weight: 3, arbitrary: nearValidBody(fields).map((o) => JSON.stringify(o)) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(...fields), fc.constantFrom(...HUGE_NUMBER_TEXTS))
        .map(([k, n]) => `{"${k}":${n}}`),
    },
  );
}

/** Byte sequences that are not UTF-8: stray continuation bytes, overlongs, encoded surrogates, 0xFF. */
export const INVALID_UTF8: readonly Buffer[] = [
  Buffer.from([0x80]),
  Buffer.from([0xc3, 0x28]),
  Buffer.from([0xc0, 0xaf]),
  Buffer.from([0xe0, 0x80, 0xaf]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xf4, 0x90, 0x80, 0x80]),
  Buffer.from([0xfe, 0xff]),
  Buffer.from([0xff, 0xff, 0xff]),
];

/** A JSON body whose string value carries invalid UTF-8 bytes. */
export const invalidUtf8Body: fc.Arbitrary<Buffer> = fc
  .tuple(fc.constantFrom('title', 'body', 'email', 'url', 'name'), fc.constantFrom(...INVALID_UTF8))
  .map(([field, bad]) => Buffer.concat([Buffer.from(`{"${field}":"x`), bad, Buffer.from('y"}')]));

export const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'APPLICATION/JSON',
  'application/json;;;',
  'application/json, text/plain',
  'application/vnd.api+json',
  'application/merge-patch+json',
  'text/plain',
  'text/html',
  'application/xml',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/octet-stream',
  '*/*',
  'json',
  '',
  `application/json; x=${'a'.repeat(2000)}`,
];
