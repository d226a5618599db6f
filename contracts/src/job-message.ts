import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { PRIORITIES } from './priorities.ts';

/** Job kinds; consumers refuse to start unless each has exactly one handler. */
export const JOB_KINDS = ['note.process', 'webhook.deliver'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export const MESSAGE_VERSION = 1;

/**
 * The body of every message on `notes.jobs`, the one definition used by the API (outbox relay),
 * the consumers and the scripts. Consumers reject anything that does not match it straight to
 * the DLQ as malformed.
 */
export const JobMessage = Type.Object(
  {
    v: Type.Literal(MESSAGE_VERSION),
    job_id: Type.String({ minLength: 1, maxLength: 64 }),
    kind: Type.Union(JOB_KINDS.map((k) => Type.Literal(k))),
    note_id: Type.String({ minLength: 1, maxLength: 64 }),
    /** The note version the job was created for: a callback for an older version is stale. */
    note_version: Type.Integer({ minimum: 1 }),
    user_id: Type.String({ minLength: 1, maxLength: 64 }),
    priority: Type.Union(PRIORITIES.map((p) => Type.Literal(p))),
    /** Only for `webhook.deliver`: the endpoint this delivery goes to. */
    webhook_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    created_at: Type.String({ minLength: 1, maxLength: 40 }),
  },
  { additionalProperties: false },
);
export type JobMessage = Static<typeof JobMessage>;

/** Largest message body a consumer will parse; anything bigger is malformed. */
export const MAX_MESSAGE_BYTES = 64 * 1024;

export type DecodeResult = { ok: true; message: JobMessage } | { ok: false; reason: string };

/** Parses and validates a raw message body. Never throws. */
export function decodeJobMessage(content: Buffer): DecodeResult {
  if (content.length > MAX_MESSAGE_BYTES) {
    return { ok: false, reason: `message body is ${content.length} bytes, over ${MAX_MESSAGE_BYTES}` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(content.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: `body is not JSON: ${(err as Error).message}` };
  }
  if (!Value.Check(JobMessage, parsed)) {
    const first = Value.Errors(JobMessage, parsed).First();
    const where = first?.path || '/';
    return { ok: false, reason: `schema: ${where} ${first?.message ?? 'is invalid'}` };
  }
  if (parsed.kind === 'webhook.deliver' && !parsed.webhook_id) {
    return { ok: false, reason: 'schema: /webhook_id is required for webhook.deliver' };
  }
  return { ok: true, message: parsed };
}

export function encodeJobMessage(message: JobMessage): Buffer {
  return Buffer.from(JSON.stringify(message));
}
