import type { RecordOutcome } from '@notes/contracts';
import type { App, AppDeps } from '../../app.ts';
import type { ApiMetrics } from '../../metrics.ts';
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
  // `metrics` is optional until every builder of AppDeps provides it (as in plugins/app/http-metrics.ts).
  const { metrics } = deps as AppDeps & { metrics?: ApiMetrics };
  const callbacks = new JobCallbacks({
    database: deps.database,
    logger: deps.logger,
    events: deps.events,
    outbox: deps.outbox,
    invalidateNotes: (userId) => invalidateUserCache(deps.redis, userId),
    onRecorded: (job, outcome) =>
      metrics?.jobsRecorded.inc({ kind: job.kind, priority: job.priority, outcome: METRIC_OUTCOME[outcome] }),
  });

  await app.register(
    async (internal: App) => {
      internal.addHook('onRequest', internal.requireRole('service'));
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
