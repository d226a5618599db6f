/**
 * The wire formats a browser bundle may import (the admin console): schemas, enums and their
 * types, with nothing behind them that needs Node (no sockets, no environment).
 */
export * from './admin-api.ts';
export * from './auth-api.ts';
export * from './events.ts';
export { JOB_KINDS, type JobKind } from './job-message.ts';
export * from './note-result.ts';
export * from './paging.ts';
export * from './priorities.ts';
export * from './statuses.ts';
