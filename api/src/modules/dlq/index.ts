/** What other modules may import from this one (docs/architecture.md); the rest of the folder is private to it. */
export { letterFromMessage } from './dead-letter.ts';
export { discardDlq, promoteDlq } from './dlq-service.ts';
export { FailureActions } from './failure-actions.ts';
export { FailureInbox } from './failure-inbox.ts';
export { fileLetters, jobsWithLetters, letterOfJob, promotedJob } from './failure-inbox-repository.ts';
