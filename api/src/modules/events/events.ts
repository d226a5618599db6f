import { NOTE_EVENT_TYPES, type NoteEventType } from '@notes/contracts';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

// The event types are a wire format: contracts holds them.
export { NOTE_EVENT_TYPES, type NoteEventType };

/** Events kept per user for `Last-Event-ID` resumption (docs/api.md, "Live events": ≥ 1,000 or 1 hour). */
export const EVENT_RETENTION_COUNT = 1000;
export const EVENT_RETENTION_SECONDS = 3600;

/**
 * The Redis stream holding one user's events (the client adds the key prefix). Entry ids are the
 * events' own ids (below); streams of the earlier format, with time-based ids, were under
 * `events:<user>` and expired an hour after their last event.
 */
export const eventStreamKey = (userId: string) => `live:${userId}`;

/** The stream lives this long after its last event (so at least EVENT_RETENTION_SECONDS). */
const STREAM_TTL_SECONDS = EVENT_RETENTION_SECONDS + 60;
/** Per-entry overhead counted on top of its fields' bytes (ids, listpack headers). */
const ENTRY_OVERHEAD_BYTES = 32;

/**
 * Appends a user's events, in order, and keeps the stream within both bounds
 * (docs/isolation.md): at most EVENT_RETENTION_COUNT entries and at most `maxBytes` of fields,
 * the oldest going first (the newest always stays). A counter beside the stream holds its size,
 * so trimming reads only the entries it removes; it is reset whenever the stream starts afresh
 * (expired or new), so the two can't drift apart for longer than a stream lives. One script:
 * concurrent publishers on any instance see a consistent size; the length, the counter and the
 * TTLs are seen to once per call, however many events it carries.
 *
 * An event from the relay enters as `<event id>-0`: event ids only grow (live_events'
 * AUTO_INCREMENT), so Redis itself refuses an id at or below the stream's last one, and an event
 * the relay publishes again is refused without any other lookup. A refused event is a repeat or
 * a late one (another relay published a newer event of this user first, or an event after it in
 * a failed batch went out): it is a repeat if the stream still holds `<id>-0`, or if its id is
 * among the remembered ones (KEYS[3]: ids of late events and of entries trimmed away, the newest
 * PUBLISHED_IDS_KEPT). A late event is appended after the last entry (`<last>-<n>`, n ≥ 1), and
 * so is an event without an id (a direct publish); every reader sees it after what it has read.
 *
 * KEYS[4], when ARGV[6] is not empty, is set first (`SET KEYS[4] ARGV[6] EX ARGV[7]`): the
 * relay's invalidation of the user's note cache, which must land before the events.
 */
const PUBLISH_SCRIPT = `
local key, bkey, ikey = KEYS[1], KEYS[2], KEYS[3]
local max_bytes, max_count, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local overhead, ids_kept = tonumber(ARGV[4]), tonumber(ARGV[5])
if ARGV[6] ~= '' then redis.call('SET', KEYS[4], ARGV[6], 'EX', ARGV[7]) end
local function remember(pairs)
  redis.call('ZADD', ikey, unpack(pairs))
  redis.call('ZREMRANGEBYRANK', ikey, 0, -(ids_kept + 1))
  redis.call('EXPIRE', ikey, ttl)
end
-- False when the event is a repeat.
local function append(eid, etype, data)
  if eid ~= '' then
    if type(redis.pcall('XADD', key, eid .. '-0', 'type', etype, 'data', data)) == 'string' then return true end
    if redis.call('ZSCORE', ikey, eid) then return false end
    if #redis.call('XRANGE', key, eid .. '-0', eid .. '-0', 'COUNT', 1) > 0 then return false end
  end
  local last = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)[1]
  local ms = last and string.match(last[1], '^(%d+)-') or '0'
  redis.call('XADD', key, ms .. '-*', 'type', etype, 'data', data)
  if eid ~= '' then remember({eid, eid}) end
  return true
end
local added, size = 0, 0
for i = 8, #ARGV, 3 do
  if append(ARGV[i], ARGV[i + 1], ARGV[i + 2]) then
    added = added + 1
    size = size + overhead + 8 + #ARGV[i + 1] + #ARGV[i + 2]
  end
end
if added == 0 then return 0 end
local len = redis.call('XLEN', key)
local bytes
if len == added then
  bytes = size
  redis.call('SET', bkey, size)
else
  bytes = redis.call('INCRBY', bkey, size)
end
local excess = len - max_count
local freed, removed, keep, done, cursor = 0, 0, nil, false, '-'
local gone = {}
-- Within both bounds nothing is trimmed: skip reading the oldest entries.
if bytes <= max_bytes and excess <= 0 then done = true end
while not done do
  local batch = redis.call('XRANGE', key, cursor, '+', 'COUNT', 32)
  if #batch == 0 then break end
  for _, e in ipairs(batch) do
    local over = (bytes - freed > max_bytes) or (removed < excess)
    if (not over) or removed >= len - 1 then
      keep = e[1]
      done = true
      break
    end
    local s = overhead
    for _, f in ipairs(e[2]) do s = s + #f end
    freed = freed + s
    removed = removed + 1
    -- An event's own entry (<id>-0) is remembered as it goes; a late one was remembered already.
    local ms = string.match(e[1], '^(%d+)-0$')
    if ms then
      gone[#gone + 1] = ms
      gone[#gone + 1] = ms
    end
  end
  if not done then cursor = '(' .. batch[#batch][1] end
end
if keep and removed > 0 then
  redis.call('XTRIM', key, 'MINID', keep)
  redis.call('DECRBY', bkey, freed)
  if #gone > 0 then remember(gone) end
end
redis.call('EXPIRE', key, ttl)
redis.call('EXPIRE', bkey, ttl)
return added
`;
const PUBLISH_COMMAND = 'notesPublishEvent';
/**
 * Event ids remembered per user beyond the stream's own entries (late events, trimmed entries),
 * so an event the relay publishes twice (it crashed, or a Redis reply came too late, before the
 * row was deleted) enters the stream once. More than the stream keeps: a republished event is
 * always a recent one.
 */
const PUBLISHED_IDS_KEPT = 2 * EVENT_RETENTION_COUNT;
type PublishFn = (key: string, bytesKey: string, idsKey: string, ...args: (string | number)[]) => Promise<number>;

/** One event as the relay hands it over: its type, its data as JSON, and its row's id. */
export interface StreamEvent {
  type: string;
  json: string;
  /** The event row's id (`live_events`); without it nothing is deduplicated. */
  id?: number;
}

/**
 * Publishes a user's live events into a Redis stream per user, so any API instance can serve any
 * user's SSE connection and a reconnect resumes from the stream id. Publishing happens after the
 * write has committed and never fails it: a Redis outage costs live events, not writes.
 */
export class EventPublisher {
  constructor(
    private readonly redis: Redis,
    private readonly logger: Logger,
    /** EVENT_STREAM_MAX_BYTES: what one user's stream may hold. */
    private readonly maxBytes = 8 * 1024 * 1024,
  ) {
    if (!(PUBLISH_COMMAND in redis)) redis.defineCommand(PUBLISH_COMMAND, { numberOfKeys: 4, lua: PUBLISH_SCRIPT });
  }

  /** `json`: `data` already serialised, if the caller has it. Never throws: a failure is logged. */
  async publish(userId: string, type: NoteEventType, data: unknown, json?: string): Promise<void> {
    try {
      await this.publishOrThrow(userId, [{ type, json: json ?? JSON.stringify(data) }]);
    } catch (err) {
      this.logger.warn({ err, type, user_id: userId }, 'live event not published (redis unavailable)');
    }
  }

  /**
   * For the live-event relay, which keeps events that could not be published and tries again:
   * one user's events, in id order, in one call. An event's `id` makes a repeat of an event
   * already in the stream a no-op. `before`: a key set in the same call, ahead of the events (the
   * user's note-cache generation, modules/notes/note-cache.ts). Resolves to how many entered the stream.
   */
  async publishOrThrow(
    userId: string,
    events: readonly StreamEvent[],
    before?: { key: string; value: string; ttlSeconds: number },
  ): Promise<number> {
    const key = eventStreamKey(userId);
    const args: (string | number)[] = [
      this.maxBytes,
      EVENT_RETENTION_COUNT,
      STREAM_TTL_SECONDS,
      ENTRY_OVERHEAD_BYTES,
      PUBLISHED_IDS_KEPT,
      before?.value ?? '',
      before?.ttlSeconds ?? 0,
    ];
    for (const e of events) args.push(e.id === undefined ? '' : String(e.id), e.type, e.json);
    return (this.redis as unknown as Record<string, PublishFn>)[PUBLISH_COMMAND]!(
      key,
      `${key}:bytes`,
      `${key}:ids`,
      before?.key ?? key,
      ...args,
    );
  }
}
