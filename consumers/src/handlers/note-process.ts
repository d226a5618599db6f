import { analyse } from '../analysis.ts';
import type { JobHandler } from './registry.ts';

/** note.process: analyses the body the API handed over at /start (the version the job is for). */
export const noteProcessHandler: JobHandler<'note.process'> = {
  kind: 'note.process',
  async handle({ note }) {
    return { result: analyse(note.body) };
  },
};
