import { type Config, JOB_KINDS, type JobKind, type JobMessage } from '@notes/contracts';
import type { Logger } from 'pino';
import type { NoteAnalysis } from '../analysis.ts';
import type { InternalNote, InternalWebhook } from '../api-client.ts';
import type { ConsumerMetrics } from '../metrics.ts';

/** What a handler gets: the message, and what the API's /start handed over for it. */
export interface HandlerContext<K extends JobKind = JobKind> {
  job: JobMessage & { kind: K };
  attempt: number;
  note: InternalNote;
  /** Only for webhook.deliver: the endpoint, with its signing secret. */
  webhook?: InternalWebhook;
  config: Config;
  logger: Logger;
  metrics?: ConsumerMetrics;
  /** Aborted when the process must stop before the handler is done. */
  signal: AbortSignal;
}

/** What a successful handler reports to /complete. */
export interface HandlerOutcome {
  result?: NoteAnalysis;
  /** For webhook.deliver: the endpoint's status and the start of its answer, kept with the attempt. */
  http?: { status: number; excerpt: string };
}

export interface JobHandler<K extends JobKind = JobKind> {
  kind: K;
  /** Throws to fail the attempt; errors.ts and retry-policy.ts decide what happens next. */
  handle(ctx: HandlerContext<K>): Promise<HandlerOutcome>;
}

export class HandlerRegistryError extends Error {
  override name = 'HandlerRegistryError';
}

/**
 * One handler per job kind. Built at start-up, and refuses to build when a kind has no handler
 * or two: a consumer that cannot run every kind must not take messages off the queue.
 */
export class HandlerRegistry {
  readonly #handlers: ReadonlyMap<JobKind, JobHandler>;

  constructor(handlers: readonly JobHandler[]) {
    const byKind = new Map<JobKind, JobHandler>();
    const problems: string[] = [];
    for (const handler of handlers) {
      if (byKind.has(handler.kind)) problems.push(`two handlers for ${handler.kind}`);
      byKind.set(handler.kind, handler);
    }
    for (const kind of JOB_KINDS) if (!byKind.has(kind)) problems.push(`no handler for ${kind}`);
    for (const kind of byKind.keys()) {
      if (!(JOB_KINDS as readonly string[]).includes(kind)) problems.push(`a handler for unknown kind ${kind}`);
    }
    if (problems.length > 0) throw new HandlerRegistryError(`job handlers: ${problems.join('; ')}`);
    this.#handlers = byKind;
  }

  get<K extends JobKind>(kind: K): JobHandler<K> {
    return this.#handlers.get(kind) as JobHandler<K>;
  }
}
