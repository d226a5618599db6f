import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import type { FuzzTarget } from './fuzz-app.ts';
import { CONTENT_TYPES, hostileString, invalidUtf8Body, rawBody } from './hostile.ts';

/**
 * The shape of a fuzzed API request: a route of the real API (every one, with its body fields and
 * query parameters), maybe the wrong method, hostile ids (encoded, or raw path segments with
 * traversal and broken percent-encoding), query strings, identities (valid, expired, `alg: none`,
 * tampered, a deleted user's, garbage), content types, headers and bodies.
 */
export type Id = 'note' | 'otherNote' | 'job' | 'webhook' | 'user';
export interface Route {
  method: string;
  path: string;
  fields?: readonly string[];
  query?: readonly string[];
}

const PAGE = ['limit', 'offset', 'sort'];
export const ROUTES: readonly Route[] = [
  { method: 'POST', path: '/api/auth/register', fields: ['name', 'email', 'password'] },
  { method: 'POST', path: '/api/auth/login', fields: ['email', 'password'] },
  { method: 'GET', path: '/api/auth/me' },
  { method: 'GET', path: '/api/notes', query: [...PAGE, 'status', 'priority', 'q'] },
  { method: 'POST', path: '/api/notes', fields: ['title', 'body', 'priority'] },
  { method: 'GET', path: '/api/notes/:note' },
  { method: 'PATCH', path: '/api/notes/:note', fields: ['title', 'body', 'priority'] },
  { method: 'DELETE', path: '/api/notes/:note' },
  { method: 'GET', path: '/api/notes/:note/jobs', query: ['limit', 'offset'] },
  { method: 'GET', path: '/api/webhooks' },
  { method: 'POST', path: '/api/webhooks', fields: ['url', 'events'] },
  { method: 'GET', path: '/api/webhooks/:webhook' },
  { method: 'DELETE', path: '/api/webhooks/:webhook' },
  { method: 'GET', path: '/api/events', query: ['access_token', 'lastEventId'] },
  { method: 'GET', path: '/api/admin/notes', query: [...PAGE, 'status', 'priority', 'user', 'q'] },
  { method: 'GET', path: '/api/admin/notes/:note' },
  { method: 'GET', path: '/api/admin/jobs', query: [...PAGE, 'status', 'kind', 'priority', 'note_id', 'q'] },
  { method: 'GET', path: '/api/admin/jobs/:job' },
  { method: 'GET', path: '/api/admin/dlq', query: [...PAGE, 'kind', 'priority', 'note_id', 'q'] },
  { method: 'POST', path: '/api/admin/dlq/promote', fields: ['job_ids', 'filter', 'dry_run', 'include_malformed'] },
  { method: 'DELETE', path: '/api/admin/dlq/:job', fields: ['reason'] },
  { method: 'GET', path: '/api/admin/users', query: [...PAGE, 'role', 'disabled', 'q'] },
  { method: 'GET', path: '/api/admin/users/:user' },
  { method: 'PATCH', path: '/api/admin/users/:user', fields: ['role', 'disabled'] },
  { method: 'GET', path: '/api/admin/queues' },
  { method: 'GET', path: '/api/admin/stats' },
  { method: 'GET', path: '/api/admin/audit', query: [...PAGE, 'action', 'actor_id', 'target'] },
  { method: 'POST', path: '/internal/jobs/:job/start', fields: ['attempt', 'run'] },
  { method: 'POST', path: '/internal/jobs/:job/complete', fields: ['attempt', 'run', 'result'] },
  { method: 'POST', path: '/internal/jobs/:job/fail', fields: ['attempt', 'run', 'error', 'final', 'reason'] },
  { method: 'GET', path: '/health' },
  { method: 'GET', path: '/health/ready' },
  { method: 'GET', path: '/metrics' },
];
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];
export const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
export type TokenKind = keyof FuzzTarget['tokens'];
const TOKENS: readonly TokenKind[] = ['user', 'other', 'admin', 'service', 'expired', 'algNone', 'tampered', 'deleted'];
const VALID_TOKENS = new Set<TokenKind>(['user', 'other', 'admin', 'service']);
/** Last-Event-IDs that must not open a stream (a test must never hang on an open SSE response). */
// biome-ignore lint/suspicious/noTemplateCurlyInString: a hostile id, on purpose
const BAD_EVENT_IDS = ['x', '1', '-1', '0-', '-0', '99999999999999999999-99999999999999999999', '1-2-3', '${1}'];

/**
 * A header value as the wire carries it: the UTF-8 bytes read as latin1, which is what Node hands
 * the app for a client that sends UTF-8; CR, LF and NUL (which no parser lets through) become spaces.
 */
const wireSafe = (v: string) =>
  Buffer.from(v, 'utf8')
    .toString('latin1')
    .replace(/[\r\n\0]/g, ' ');

/** Percent-encodes the UTF-8 bytes (a lone surrogate goes as the replacement character, as on the wire). */
export const pct = (v: string) =>
  [...Buffer.from(v, 'utf8')]
    .map((b) =>
      /[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0')}`,
    )
    .join('');
/** Path segments sent verbatim: traversal, empty segments, broken and overlong percent-encodings. */
const RAW_SEGMENTS = [
  '..',
  '../..',
  '../../admin/users',
  '%2e%2e',
  '.%2e/.%2e/api/admin/users',
  '%',
  '%zz',
  '%E0%A4%A',
  '%c0%af',
  '%ed%a0%80',
  '%00',
  '%ff%fe',
  'a/b/c',
  '',
  '/',
  ';x=1',
  'x;jsessionid=1',
  '*',
  `${'%41'.repeat(200)}`,
];
/** Query strings sent verbatim. */
const RAW_QUERIES = [
  'limit=1&limit=2',
  'q=%zz',
  'q=%',
  'q',
  '=',
  '&&&',
  '?',
  'sort[]=title',
  'limit=1e2',
  'limit=0x10',
  'limit=+1',
  'limit=%201',
  'offset=-0',
  'limit=1.5',
  'limit=99999999999999999999',
  `q=${'a'.repeat(5000)}`,
  'status=queued&status=dead',
  '__proto__[polluted]=1',
  'constructor[prototype][x]=1',
  'lastEventId=0-0&access_token=x.y.z',
];

export const requestArb = fc.record({
  route: fc.constantFrom(...ROUTES),
  otherMethod: fc.option(fc.constantFrom(...METHODS), { freq: 6 }),
  id: fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom<Id>('note', 'otherNote', 'job', 'webhook', 'user') },
    { weight: 3, arbitrary: hostileString },
  ),
  /** The id as given (pct-encoded), or a raw path segment with traversal or broken percent-encoding. */
  rawId: fc.option(fc.constantFrom(...RAW_SEGMENTS), { freq: 5 }),
  query: fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .array(
          fc.tuple(
            fc.oneof(
              fc.constantFrom('limit', 'offset', 'sort', 'q', 'status', '__proto__', 'q[$ne]', 'lastEventId'),
              hostileString,
            ),
            hostileString,
          ),
          { maxLength: 4 },
        )
        .map((pairs) => pairs.map(([k, v]) => `${pct(k)}=${pct(v)}`).join('&')),
    },
    { weight: 1, arbitrary: fc.constantFrom(...RAW_QUERIES) },
  ),
  auth: fc.oneof(
    {
      weight: 6,
      arbitrary: fc.constantFrom(...TOKENS).map((k) => ({ kind: k as TokenKind | 'raw' | 'none', raw: '' })),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'none' as const, raw: '' }) },
    { weight: 1, arbitrary: hostileString.map((s) => ({ kind: 'raw' as const, raw: s })) },
  ),
  body: fc.oneof(
    { weight: 1, arbitrary: fc.constant<string | Buffer | undefined>(undefined) },
    { weight: 5, arbitrary: fc.constantFrom(...ROUTES).chain((r) => rawBody(r.fields ?? ['title'])) },
    { weight: 1, arbitrary: invalidUtf8Body },
  ),
  contentType: fc.oneof(
    { weight: 5, arbitrary: fc.constant('application/json') },
    { weight: 2, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
    { weight: 1, arbitrary: hostileString },
  ),
  headers: fc.record(
    {
      'idempotency-key': hostileString,
      'if-match': hostileString,
      'last-event-id': hostileString,
      'x-request-id': hostileString,
      accept: fc.constantFrom('application/json', 'text/event-stream', '*/*', 'text/html', 'application/xml'),
      'accept-encoding': fc.constantFrom('gzip', 'br', 'identity;q=0', '*'),
    },
    { requiredKeys: [] },
  ),
});
export type Req = typeof requestArb extends fc.Arbitrary<infer T> ? T : never;

let built = 0;

/** The inject options for a fuzzed request against `f`'s identities and rows. */
export function buildRequest(f: FuzzTarget, r: Req): InjectOptions & { method: string; url: string } {
  const method = r.otherMethod ?? r.route.method;
  const idValue =
    typeof r.id === 'string' && ['note', 'otherNote', 'job', 'webhook', 'user'].includes(r.id)
      ? r.id === 'user'
        ? 'not-a-user-id' // never a real user: a fuzzed PATCH must not disable the fuzzing identities
        : f.ids[r.id as Exclude<Id, 'user'>]
      : r.id;
  const idText = r.rawId ?? pct(idValue);
  const path = r.route.path.replace(/:(note|job|webhook|user)/, idText);
  const qs = r.query;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) headers[k] = wireSafe(v);
  if (r.auth.kind === 'raw') headers.authorization = wireSafe(r.auth.raw);
  else if (r.auth.kind !== 'none') headers.authorization = `Bearer ${f.tokens[r.auth.kind]}`;
  // An SSE stream with a valid identity and a valid id never ends: keep the fuzz on its rejections.
  if (
    r.route.path === '/api/events' &&
    r.auth.kind !== 'none' &&
    r.auth.kind !== 'raw' &&
    VALID_TOKENS.has(r.auth.kind)
  ) {
    headers['last-event-id'] = BAD_EVENT_IDS[built++ % BAD_EVENT_IDS.length]!;
  }
  const options: InjectOptions & { method: string; url: string } = {
    method,
    url: qs ? `${path}?${qs}` : path,
    headers,
  };
  if (r.body !== undefined && method !== 'GET' && method !== 'HEAD') {
    headers['content-type'] = wireSafe(r.contentType);
    options.payload = r.body;
  }
  return options;
}
