import type { RecordOutcome } from '@notes/contracts';
import type { App, AppDeps } from '../../app.ts';
import {
  CompleteBody,
  FailBody,
  JobIdParams,
  RecordResponse,
  type RecordResult,
  StartBody,
  StartResponse,
} from '../../schemas/internal.ts';
import { JobCallbacks } from '../../services/job-callbacks.ts';
import { invalidateUserCache } from '../../services/note-cache.ts';

/** The metric's closed set is coarser than the answer: gone or settled jobs count as stale or duplicate. */
const METRIC_OUTCOME: Record<RecordResult, RecordOutcome> = {
  processed: 'processed',
  failed: 'failed',
  dead: 'dead',
  stale: 'stale',
  deleted: 'stale',
  unknown: 'stale',
  duplicate: 'duplicate',
  finished: 'duplicate',
};

/**
 * The consumers' callbacks under /internal (service identity only). The role check runs on
 * `onRequest`, before validation: no token → 401, any identity but `service` → 403. Every
 * answer to a valid request is 200; the body says what was recorded, and the consumer acks.
 */
export default async function internalRoutes(app: App, deps: AppDeps) {
  const { metrics } = deps;
  const callbacks = new JobCallbacks({
    database: deps.database,
    logger: deps.logger,
    events: deps.events,
    outbox: deps.outbox,
    invalidateNotes: (userId) => invalidateUserCache(deps.redis, userId),
    onRecorded: (job, outcome) =>
      metrics.jobsRecorded.inc({ kind: job.kind, priority: job.priority, outcome: METRIC_OUTCOME[outcome] }),
    onEnqueued: (job, count) => metrics.jobsEnqueued.inc(job, count),
  });

  await app.register(
    // Named: tracing names the route's hook spans after this function.
    async function internalJobRoutes(internal: App) {
      internal.addHook('onRequest', internal.requireRole('service'));
      // Every log line of a callback names its job, so logs join the consumer's by job_id.
      internal.addHook('preHandler', async (request) => {
        const { jobId } = request.params as { jobId?: string };
        if (jobId) request.log = request.log.child({ job_id: jobId });
      });
      const common = { tags: ['internal'], security: [{ bearer: [] }], params: JobIdParams };

      internal.post(
        '/jobs/:jobId/start',
        { schema: { ...common, body: StartBody, response: { 200: StartResponse } } },
        async (request) => callbacks.start(request.params.jobId, request.body),
      );
      internal.post(
        '/jobs/:jobId/complete',
        { schema: { ...common, body: CompleteBody, response: { 200: RecordResponse } } },
        async (request) => callbacks.complete(request.params.jobId, request.body),
      );
      internal.post(
        '/jobs/:jobId/fail',
        { schema: { ...common, body: FailBody, response: { 200: RecordResponse } } },
        async (request) => callbacks.fail(request.params.jobId, request.body),
      );
    },
    { prefix: '/internal' },
  );
}
