import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import type { App, AppDeps } from '../../app-types.ts';
import { BadRequestError, ServiceUnavailableError, TooManyRequestsError } from '../../platform/errors/index.ts';
import { eventStreamKey } from './events.ts';
import type { StreamSlots } from './stream-slots.ts';

/**
 * Live events over SSE (docs/operations.md and docs/api.md). Each user's events sit in a Redis stream
 * (modules/events/events.ts), so any API instance can serve any user, and `Last-Event-ID` (a stream
 * id) resumes exactly where the client stopped: XREAD returns everything after it, no gap.
 *
 * Each connection gets its own Redis connection for XREAD BLOCK: the shared request client
 * times out after 500 ms by design and can't block. A per-client connection keeps the loop
 * trivially correct (own cursor, own backpressure); the per-user cap (SSE_MAX_STREAMS_PER_USER,
 * counted in Redis across instances with leases: modules/events/stream-slots.ts) bounds what one user
 * can open. The heartbeat doubles as the XREAD block timeout. A stream ends when its token
 * expires or its user is disabled (checked every STILL_ALLOWED_MS; docs/isolation.md).
 */
export const HEARTBEAT_MS = 15_000;
/** How often a stream checks that its token is still valid and its user still enabled. */
const STILL_ALLOWED_MS = 2000;
/** Entries read per XREAD; a reconnecting client catches up in chunks of this size. */
const READ_COUNT = 200;
/** What EventSource waits before reconnecting after the stream ends. */
const CLIENT_RETRY_MS = 2000;

const STREAM_ID = /^\d{1,20}-\d{1,20}$/;

const QuerySchema = Type.Object(
  {
    // Any string: a malformed token is a 401 like any other bad token, decided by authenticate.
    access_token: Type.Optional(Type.String()),
    lastEventId: Type.Optional(Type.String({ pattern: STREAM_ID.source })),
  },
  { additionalProperties: false },
);

type Streamed = { end(): void };

export default async function eventRoutes(app: App, deps: Pick<AppDeps, 'config' | 'redis'> & { slots: StreamSlots }) {
  const open = new Set<Streamed>();
  const maxStreams = deps.config.limits.sseMaxStreamsPerUser;
  const { slots } = deps;

  // End the streams before the server closes, or it would wait for them; onClose is the backstop.
  const endAll = async () => {
    for (const s of open) s.end();
  };
  app.addHook('preClose', endAll);
  app.addHook('onClose', endAll);

  /**
   * EventSource can't set headers, so the token may come as `access_token`. It is only ever
   * used as a bearer token through the app's own authenticate (same checks: signature, expiry,
   * disabled user); a header, when present, wins.
   */
  async function authenticateHeaderOrQuery(request: FastifyRequest) {
    const token = (request.query as { access_token?: string }).access_token;
    if (!request.headers.authorization && token) request.headers.authorization = `Bearer ${token}`;
    await app.authenticate(request);
  }

  app.get(
    '/api/events',
    {
      preHandler: authenticateHeaderOrQuery,
      schema: {
        tags: ['events'],
        summary: "Server-sent events: the caller's note.created/updated/deleted/processed/dead",
        description:
          'Token by `Authorization: Bearer` or `?access_token=`. Each event has `id:` (resumable), `event:` (the ' +
          'type) and `data:` (the note as JSON, `{id}` for deleted). Reconnect with `Last-Event-ID` (or ' +
          '`?lastEventId=`) to receive everything since, within the last 1,000 events or hour.',
        security: [{ bearer: [] }],
        querystring: QuerySchema,
        produces: ['text/event-stream'],
      },
    },
    async (request, reply) => {
      const userId = request.user.id;
      const header = request.headers['last-event-id'];
      const resumeFrom = (typeof header === 'string' && header.trim()) || request.query.lastEventId;
      if (resumeFrom && !isStreamId(resumeFrom)) {
        throw new BadRequestError('Last-Event-ID is not an id this server sent.', { field: 'Last-Event-ID' });
      }
      const expiresAt = tokenExpiry(request.headers.authorization);
      const streamId = randomUUID();
      let slot: boolean;
      try {
        slot = await slots.acquire(userId, streamId);
      } catch (err) {
        request.log.warn({ err }, 'live events unavailable (redis)');
        throw new ServiceUnavailableError('Live events are unavailable right now.', 5);
      }
      if (!slot) throw new TooManyRequestsError(5, `At most ${maxStreams} live event streams per user.`);
      const releaseSlot = () => slots.release(userId, streamId).catch(() => {});

      const redis = new Redis(deps.config.redis.url, {
        keyPrefix: deps.config.redis.keyPrefix,
        // Named per namespace so an operator (or a test) can count the live streams in CLIENT LIST.
        connectionName: `notes-sse-${deps.config.redis.keyPrefix}`,
        lazyConnect: true,
        connectTimeout: 1000,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        // No reconnecting: when Redis goes away the stream ends and EventSource reconnects
        // with Last-Event-ID, which resumes without a gap.
        retryStrategy: () => null,
      });
      redis.on('error', () => {});
      const key = eventStreamKey(userId);
      let cursor: string;
      try {
        await redis.connect();
        // Without Last-Event-ID start at the stream's current end, read now: starting with `$` at
        // the first XREAD would miss whatever is published between here and there.
        const last = await latestId(redis, key);
        // An id past the stream's last one was never this stream's (one of the time-based ids
        // streams had before, or of a stream that expired since): everything kept is news to it.
        cursor = !resumeFrom ? last : isAfter(resumeFrom, last) ? '0-0' : resumeFrom;
      } catch (err) {
        redis.disconnect();
        void releaseSlot();
        request.log.warn({ err }, 'live events unavailable (redis)');
        throw new ServiceUnavailableError('Live events are unavailable right now.', 5);
      }

      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        // What the reply carries so far (the security headers): hijacking leaves it unsent.
        ...(reply.getHeaders() as Record<string, string>),
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write(`retry: ${CLIENT_RETRY_MS}\n: connected\n\n`);

      let closed = false;
      let sinceRenewal = 0;
      // Ends the stream once the token has expired or been revoked or the user is disabled, and keeps the slot's
      // lease alive meanwhile (a lapsed lease may have gone to another stream: end this one).
      const watch = setInterval(() => {
        void (async () => {
          if (Date.now() >= expiresAt) return stream.end();
          // A revoked token (password change, logout-all) ends the stream too (docs/security.md).
          if (request.user.role !== 'service' && !(await app.userIsActive(userId, request.user.tokenVersion))) {
            return stream.end();
          }
          sinceRenewal += STILL_ALLOWED_MS;
          if (sinceRenewal < HEARTBEAT_MS) return;
          sinceRenewal = 0;
          if (!(await slots.renew(userId, streamId))) stream.end();
        })().catch(() => stream.end());
      }, STILL_ALLOWED_MS);
      watch.unref();
      const stream: Streamed = {
        end() {
          if (closed) return;
          closed = true;
          clearInterval(watch);
          redis.disconnect(); // interrupts a pending XREAD BLOCK
          res.end();
        },
      };
      open.add(stream);
      res.on('close', () => {
        stream.end();
        open.delete(stream);
        void releaseSlot();
      });

      void pump(redis, key, cursor, res, () => closed)
        .catch((err) => {
          if (!closed) request.log.warn({ err }, 'live event stream ended by an error');
        })
        .finally(() => stream.end());
    },
  );
}

/** When the bearer token stops being valid (ms); authenticate has verified it already. */
function tokenExpiry(authorization: string | undefined): number {
  const token = authorization?.split(' ')[1] ?? '';
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      exp?: unknown;
    };
    return typeof payload.exp === 'number' ? payload.exp * 1000 : Number.POSITIVE_INFINITY;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** Redis stream ids are two unsigned 64-bit integers. */
const MAX_ID_PART = 2n ** 64n - 1n;

/**
 * True for an id Redis could have given: `<ms>-<seq>`, each part a 64-bit unsigned integer. One
 * past that range would otherwise count as "after the stream's last id" and resume from the
 * oldest event kept, instead of being refused like any id this server never sent.
 */
export function isStreamId(id: string): boolean {
  return STREAM_ID.test(id) && id.split('-').every((part) => BigInt(part) <= MAX_ID_PART);
}

/** True when stream id `a` comes after `b` (both `<ms>-<seq>`, as isStreamId checks). */
export function isAfter(a: string, b: string): boolean {
  const [am = 0n, as = 0n] = a.split('-').map(BigInt);
  const [bm = 0n, bs = 0n] = b.split('-').map(BigInt);
  return am > bm || (am === bm && as > bs);
}

async function latestId(redis: Redis, key: string): Promise<string> {
  const [last] = await redis.xrevrange(key, '+', '-', 'COUNT', 1);
  return last?.[0] ?? '0-0';
}

/** Reads the user's stream from `cursor` on and writes each entry as one SSE event, until closed. */
async function pump(redis: Redis, key: string, cursor: string, res: ServerResponse, isClosed: () => boolean) {
  while (!isClosed()) {
    const reply = await redis.xread('COUNT', READ_COUNT, 'BLOCK', HEARTBEAT_MS, 'STREAMS', key, cursor);
    if (isClosed()) return;
    const entries = reply?.[0]?.[1] ?? [];
    if (entries.length === 0) {
      res.write(': heartbeat\n\n');
      continue;
    }
    let chunk = '';
    for (const [id, fields] of entries) {
      cursor = id;
      chunk += formatEvent(id, fields);
    }
    // Backpressure: a slow client stops our reads rather than growing a buffer in memory.
    if (!res.write(chunk)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
  }
}

/** One SSE event from a stream entry `[type, t, data, json]`. `data` is one line of JSON. */
export function formatEvent(id: string, fields: string[]): string {
  let type = 'message';
  let data = 'null';
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 'type') type = fields[i + 1] ?? type;
    else if (fields[i] === 'data') data = fields[i + 1] ?? data;
  }
  // Event names and ids are ours, but never let a newline split a field into two.
  return `id: ${id}\nevent: ${type.replace(/[\r\n]/g, '')}\ndata: ${data.replace(/[\r\n]+/g, ' ')}\n\n`;
}
