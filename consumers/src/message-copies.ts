import { HEADERS, withoutDeathHeaders } from '@notes/contracts';
import type { ConsumeMessage, Options } from 'amqplib';

/** Copies of a job's message and what its headers say (deliveries, requeues, run). */

/** The same message again (body, id, priority, type), persistent, with the given headers. */
export function copyOptions(msg: ConsumeMessage, headers: Record<string, unknown>): Options.Publish {
  const p = msg.properties;
  const options: Options.Publish = {
    persistent: true,
    mandatory: true,
    headers: withoutDeathHeaders(headers),
    timestamp: Math.floor(Date.now() / 1000),
  };
  if (p.contentType) options.contentType = p.contentType;
  if (p.messageId) options.messageId = p.messageId;
  if (p.type) options.type = p.type;
  if (typeof p.priority === 'number') options.priority = p.priority;
  if (p.correlationId) options.correlationId = p.correlationId;
  if (p.appId) options.appId = p.appId;
  return options;
}

/** The headers a new attempt (or a dead copy) starts with: no delivery or requeue counts. */
export function withoutDeliveries(headers: Record<string, unknown> | undefined): Record<string, unknown> {
  // x-delivery-count: a quorum queue's count for the old message, meaningless on a new one.
  const { [HEADERS.deliveries]: _d, [HEADERS.requeued]: _r, 'x-delivery-count': _q, ...rest } = headers ?? {};
  return rest;
}

/** A count header's value; anything but a non-negative integer counts as 0. */
export function countOf(raw: unknown): number {
  const n = Number(raw ?? 0);
  return Number.isInteger(n) && n >= 0 ? n : 0;
}

/**
 * True for the first copy of a job's message: not redelivered, not republished as a counted
 * redelivery, not put back while the API was unreachable. Such a copy of a job that another
 * delivery is running is a duplicate publish; /start tells it not to run (docs/guarantees.md).
 */
export function isFirstCopy(msg: ConsumeMessage): boolean {
  const headers = msg.properties.headers ?? {};
  return (
    !msg.fields.redelivered && countOf(headers[HEADERS.deliveries]) === 0 && countOf(headers[HEADERS.requeued]) === 0
  );
}

/** The run a promoted job is in (its promotion time); undefined for the first run. */
export function runOf(headers: Record<string, unknown>): string | undefined {
  const raw = headers[HEADERS.promotedAt];
  if (raw === undefined || raw === null || raw === '') return undefined;
  const text = raw instanceof Date ? String(raw.getTime()) : String(raw);
  return text.replace(/[^A-Za-z0-9:._-]/g, '_').slice(0, 40) || undefined;
}
