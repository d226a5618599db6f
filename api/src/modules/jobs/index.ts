/** What other modules may import from this one (docs/architecture.md); the rest of the folder is private to it. */
export { jobInserts, type OutboxNotifier } from './job-enqueue.ts';
export { JobOperations } from './job-operations.ts';
export { listJobsForNote, toJob } from './jobs-repository.ts';
