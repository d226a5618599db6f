import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { analyse } from '../analysis.ts';
import type { JobHandler } from './registry.ts';

/**
 * note.process: analyses the body the API handed over at /start (the version the job is for).
 * It first yields to the event loop (docs/isolation.md): when a prefetched batch of notes is
 * ready at once, each analysis runs in its own turn, so heartbeats, /health and the other lane's
 * deliveries are served between them instead of after the whole batch.
 */
export const noteProcessHandler: JobHandler<'note.process'> = {
  kind: 'note.process',
  async handle({ note }) {
    await yieldToEventLoop();
    return { result: analyse(note.body) };
  },
};
