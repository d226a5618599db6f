import { createHash } from 'node:crypto';
import {
  DEFAULT_PRIORITY,
  decodeJobMessage,
  HEADERS,
  isPriority,
  jobPublishOptions,
  PRIORITIES,
  type Priority,
  withoutDeathHeaders,
} from '@notes/contracts';
import type { MessageProperties, Options } from 'amqplib';
import { uuidv7 } from 'uuidv7';
import { parseJsonColumn } from '../../platform/db/client.ts';
import type { DeadLetterRow } from './failure-inbox-repository.ts';

/**
 * A message from notes.dlq as the failure inbox keeps it (docs/jobs.md, "Failure inbox"), and
 * back: the copy a promote publishes. Pure functions, no I/O.
 */

export type { DeadLetterRow };

/** Dead-letter bookkeeping, stripped (with the broker's x-death) when a message goes back to work. */
const DEAD_HEADERS = [
  HEADERS.deadReason,
  HEADERS.deadAt,
  HEADERS.malformed,
  HEADERS.deliveries,
  HEADERS.errorClass,
  HEADERS.letterId,
];
/** A letter id as the consumers stamp it (a UUID, lower case). */
const LETTER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/**
 * Most of a body a letter keeps: past it a message (malformed by then: job messages are small)
 * keeps its start, so one letter always fits one statement (docs/jobs.md, "The failure inbox").
 */
export const MAX_LETTER_BODY_BYTES = 8 * 1024 * 1024;
/** The attempt column is a signed INT: a larger attempt header is no attempt count at all. */
const MAX_ATTEMPT = 2_147_483_647;
/** How the consumers prefix a dead reason (contracts DeadReason). */
const REASON_KIND = /^(max_attempts|permanent|rejected|malformed|poison): /;
/** `WebhookDeliveryError: endpoint answered 500` → class and message (consumers' describeError). */
const CLASS_PREFIX = /^([A-Za-z_$][\w$.]{0,99}): ([\s\S]*)$/;

/**
 * The error message with what differs between alike failures taken out, so they fall in one
 * group: ids, times, addresses and long numbers become placeholders. Three-digit numbers (HTTP
 * statuses) stay: a 404 and a 500 are different failures.
 */
export function normaliseMessage(message: string): string {
  return message
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<id>')
    .replace(/\b\d{4}-\d\d-\d\dT[\d:.]+Z?\b/g, '<time>')
    .replace(/\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b/g, '<address>')
    .replace(/\b[0-9a-f]{12,}\b/gi, '<hex>')
    .replace(/"[^"]{0,200}"/g, '"…"')
    .replace(/\b\d+(\.\d+)?\b/g, (n) => (/^\d{1,3}$/.test(n) ? n : '<n>'))
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 500);
}

/** The error class and message of a dead reason, with the class header the consumers add. */
export function classify(reason: string, classHeader: unknown): { errorClass: string; message: string } {
  const kind = REASON_KIND.exec(reason)?.[1];
  let rest = kind ? reason.slice(kind.length + 2) : reason;
  let errorClass = typeof classHeader === 'string' && classHeader ? classHeader : '';
  const prefixed = CLASS_PREFIX.exec(rest);
  if (prefixed && (!errorClass || prefixed[1] === errorClass)) {
    errorClass ||= prefixed[1] as string;
    rest = prefixed[2] as string;
  }
  if (!errorClass) errorClass = kind === 'malformed' || kind === 'poison' ? kind : 'Error';
  return { errorClass: errorClass.slice(0, 100), message: normaliseMessage(rest) };
}

export function groupIdOf(kind: string, errorClass: string, message: string): string {
  return createHash('sha256').update(`${kind}\u0000${errorClass}\u0000${message}`).digest('hex').slice(0, 16);
}

const text = (v: unknown) => (typeof v === 'string' ? v : v instanceof Buffer ? v.toString('utf8') : undefined);

/**
 * Reads a dead message. Never throws: anything unreadable is kept as malformed, and every field
 * fits its column, so one hostile message can never fail the batch it is stored with.
 *
 * The letter's id is the one its consumer stamped (x-notes-letter-id), so a redelivery of the
 * same dead message is filed once; a message without one (dead-lettered by the broker or an older
 * consumer) gets a fresh id. A malformed message's `jobId` is only a candidate, read from its
 * message_id: the inbox keeps it only for a job that exists (failure-inbox-repository, fileLetters).
 */
export function letterFromMessage(content: Buffer, properties: MessageProperties, now = new Date()): DeadLetterRow {
  const headers = (properties.headers ?? {}) as Record<string, unknown>;
  const decoded = decodeJobMessage(content);
  const messageId = typeof properties.messageId === 'string' ? properties.messageId : null;
  const amqpPriority = PRIORITIES[Number(properties.priority) - 1];
  const priority: Priority = decoded.ok
    ? decoded.message.priority
    : isPriority(amqpPriority)
      ? amqpPriority
      : DEFAULT_PRIORITY;
  const kind = decoded.ok ? decoded.message.kind : (text(properties.type) ?? 'unknown').slice(0, 64);
  const jobId = decoded.ok ? decoded.message.job_id : messageId && /^[\w.:-]{1,64}$/.test(messageId) ? messageId : null;
  const malformed = !decoded.ok || headers[HEADERS.malformed] != null;
  const reason = (
    text(headers[HEADERS.deadReason]) ?? (decoded.ok ? 'dead-lettered' : `malformed: ${decoded.reason}`)
  ).slice(0, 4000);
  const { errorClass, message } = classify(reason, text(headers[HEADERS.errorClass]));
  const deadAt = new Date(text(headers[HEADERS.deadAt]) ?? '');
  const attempt = Number(headers[HEADERS.attempt]);
  const stamped = text(headers[HEADERS.letterId]);
  return {
    id: stamped && LETTER_ID.test(stamped) ? stamped : uuidv7(),
    jobId,
    kind,
    priority,
    userId: decoded.ok ? decoded.message.user_id : null,
    groupId: groupIdOf(kind, errorClass, message),
    errorClass,
    message,
    reason,
    malformed,
    attempt: Number.isInteger(attempt) && attempt >= 1 && attempt <= MAX_ATTEMPT ? attempt : 1,
    body: content.subarray(0, MAX_LETTER_BODY_BYTES).toString('base64'),
    headers: { ...headers, ...propertiesToKeep(properties, content.length) },
    deadAt: Number.isNaN(deadAt.getTime()) ? now : deadAt,
    promoteRun: null,
  };
}

/** AMQP properties the copy needs again, kept beside the headers under one reserved key. */
const PROPS_KEY = '__amqp';
function propertiesToKeep(p: MessageProperties, bodyBytes: number): Record<string, unknown> {
  const keep: Record<string, unknown> = {};
  if (bodyBytes > MAX_LETTER_BODY_BYTES) keep.bodyBytes = bodyBytes;
  if (typeof p.type === 'string') keep.type = p.type;
  if (typeof p.messageId === 'string') keep.messageId = p.messageId;
  if (typeof p.contentType === 'string') keep.contentType = p.contentType;
  return Object.keys(keep).length > 0 ? { [PROPS_KEY]: keep } : {};
}

/**
 * The copy a promote publishes: the same body, attempt 1, no dead-letter headers, and the new
 * run in x-notes-promoted-at (the consumers scope their callbacks by it; docs/jobs.md, "Runs").
 */
export function promotedCopy(letter: DeadLetterRow, run: string): { content: Buffer; options: Options.Publish } {
  const { [PROPS_KEY]: _props, ...stored } = parseJsonColumn<Record<string, unknown>>(letter.headers) ?? {};
  const headers: Record<string, unknown> = withoutDeathHeaders(stored);
  for (const h of DEAD_HEADERS) delete headers[h];
  headers[HEADERS.promotedAt] = run;
  const jobId = letter.jobId ?? String((_props as { messageId?: string } | undefined)?.messageId ?? letter.id);
  const options = jobPublishOptions({ jobId, kind: letter.kind, priority: letter.priority, attempt: 1, headers });
  return { content: Buffer.from(letter.body, 'base64'), options };
}

/**
 * A new run's token: the promotion time as the x-notes-promoted-at header has always carried it,
 * which the consumers pass on as the callbacks' `run` (only [A-Za-z0-9:._-], at most 40).
 */
export function newRun(now = new Date()): string {
  return now.toISOString();
}
