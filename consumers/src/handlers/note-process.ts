import { analyse } from '../analysis.ts';
import { eventLoopTurns } from '../event-loop-turns.ts';
import type { JobHandler } from './registry.ts';

/**
 * note.process: analyses the body the API handed over at /start (the version the job is for).
 * Each analysis waits for an event-loop turn of its own (docs/isolation.md): when a prefetched
 * batch is ready at once, heartbeats, /health and the webhook lane are served between its notes,
 * not after the whole batch.
 */
export const noteProcessHandler: JobHandler<'note.process'> = {
  kind: 'note.process',
  async handle({ note }) {
    await eventLoopTurns.take();
    return { result: analyse(note.body) };
  },
};
