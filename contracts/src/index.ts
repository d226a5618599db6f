// The server-side barrel. The API's and the consumers' HTTP shapes have entries of their own
// (@notes/contracts/callbacks, /admin-api, /auth-api: their names overlap); /wire is what a
// browser bundle may import (no Node modules behind it).
export * from './amqp-connection.ts';
export * from './config.ts';
export * from './console-settings.ts';
export * from './email.ts';
export * from './events.ts';
export * from './job-message.ts';
export * from './metric-names.ts';
export * from './metrics-access.ts';
export * from './metrics-exposition.ts';
export * from './note-result.ts';
export * from './operations.ts';
export * from './paging.ts';
export * from './priorities.ts';
export * from './quorum-topology.ts';
export * from './service-token.ts';
export * from './span-attributes.ts';
export * from './ssrf.ts';
export * from './statuses.ts';
export * from './topology.ts';
export * from './trace-context.ts';
