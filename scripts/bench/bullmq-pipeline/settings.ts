import { PRIORITIES, type Priority } from '@notes/contracts';

/**
 * What the comparator's two processes share: where they find MariaDB and Redis, the queue's name
 * and how the product's priorities map onto BullMQ's (1 is served first). The bench passes
 * everything through the environment (launch.ts), in a scratch database and key prefix of its own.
 */
export interface PipelineSettings {
  databaseUrl: string;
  redisUrl: string;
  /** BullMQ's key prefix (no trailing colon); the dedupe keys live under it too. */
  prefix: string;
  port: number;
  jwtSecret: string;
  /** Jobs the worker runs at once (BullMQ `concurrency`). */
  concurrency: number;
  dbPoolSize: number;
}

export const QUEUE_NAME = 'notes';
export const JOB_NAME = 'note.process';
/** A repeated payload from the same user within this window answers the first note again. */
export const DEDUPE_SECONDS = 60;
/** BullMQ's retries before a note is marked dead. */
export const JOB_ATTEMPTS = 3;

/** BullMQ serves priority 1 first: max → 1 … low → 5. */
export function bullmqPriority(priority: Priority): number {
  return PRIORITIES.length - PRIORITIES.indexOf(priority);
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

export function readSettings(env: NodeJS.ProcessEnv = process.env): PipelineSettings {
  return {
    databaseUrl: required(env, 'DATABASE_URL'),
    redisUrl: required(env, 'REDIS_URL'),
    prefix: required(env, 'BULLMQ_PREFIX'),
    port: Number(env.PORT ?? 0),
    jwtSecret: required(env, 'JWT_SECRET'),
    concurrency: Number(env.WORKER_CONCURRENCY ?? 64),
    dbPoolSize: Number(env.DB_POOL_SIZE ?? 16),
  };
}
