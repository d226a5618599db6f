export { analyse, type NoteAnalysis } from './analysis.ts';
export { ConsumerProcess, type ConsumerProcessOptions } from './consumer-process.ts';
export type { HandlerContext, HandlerOutcome, JobHandler } from './handlers/registry.ts';
