import { ControlState } from '@notes/contracts';
import {
  CallbacksBody,
  CallbacksResponse,
  CompleteBatchBody,
  CompleteBody,
  FailBatchBody,
  FailBody,
  JobIdParams,
  RecordBatchResponse,
  RecordResponse,
  StartBatchBody,
  StartBatchResponse,
  StartBody,
  StartResponse,
} from '@notes/contracts/callbacks';
import type { App } from '../../app-types.ts';
import type { JobCallbacks } from './job-callbacks.ts';
import type { JobOperations } from './job-operations.ts';

/**
 * The consumers' callbacks under /internal (service identity only). The role check runs on
 * `onRequest`, before validation: no token → 401, any identity but `service` → 403. Every
 * answer to a valid request is 200; the body says what was recorded, and the consumer acks.
 *
 * Each callback exists twice: for one job (`/jobs/:jobId/start`) and for a batch (`/jobs/start`
 * with `{jobs: [...]}`): one request and one transaction for many jobs, answered per job in
 * request order. `/jobs/callbacks` takes all three kinds at once, which the consumers use under
 * load.
 */
export default async function internalRoutes(
  app: App,
  { callbacks, operations }: { callbacks: JobCallbacks; operations: JobOperations },
) {
  await app.register(
    // Named: tracing names the route's hook spans after this function.
    async function internalJobRoutes(internal: App) {
      internal.addHook('onRequest', internal.requireRole('service'));
      // Every log line of a callback names its job(s), so logs join the consumer's by job_id.
      internal.addHook('preHandler', async (request) => {
        const { jobId } = request.params as { jobId?: string };
        if (jobId) request.log = request.log.child({ job_id: jobId });
        const body = (request.body ?? {}) as Record<string, { job_id: string }[] | undefined>;
        const lists = [body.jobs, body.start, body.complete, body.fail].filter(Array.isArray);
        if (lists.length > 0) request.log = request.log.child({ job_ids: lists.flat().map((j) => j.job_id) });
      });
      const common = { tags: ['internal'], security: [{ bearer: [] }] };
      const one = { ...common, params: JobIdParams };

      internal.post(
        '/jobs/:jobId/start',
        { schema: { ...one, body: StartBody, response: { 200: StartResponse } } },
        async (request) => callbacks.start(request.params.jobId, request.body),
      );
      internal.post(
        '/jobs/:jobId/complete',
        { schema: { ...one, body: CompleteBody, response: { 200: RecordResponse } } },
        async (request) => callbacks.complete(request.params.jobId, request.body),
      );
      internal.post(
        '/jobs/:jobId/fail',
        { schema: { ...one, body: FailBody, response: { 200: RecordResponse } } },
        async (request) => callbacks.fail(request.params.jobId, request.body),
      );

      // What every consumer polls about once a second: the kinds paused now (docs/jobs.md, "Control").
      internal.get('/control', { schema: { ...common, response: { 200: ControlState } } }, async () => ({
        paused: await operations.pausedKinds(),
      }));

      internal.post(
        '/jobs/start',
        { schema: { ...common, body: StartBatchBody, response: { 200: StartBatchResponse } } },
        async (request) => ({ results: await callbacks.startMany(request.body.jobs) }),
      );
      internal.post(
        '/jobs/complete',
        { schema: { ...common, body: CompleteBatchBody, response: { 200: RecordBatchResponse } } },
        async (request) => ({ results: await callbacks.completeMany(request.body.jobs) }),
      );
      internal.post(
        '/jobs/fail',
        { schema: { ...common, body: FailBatchBody, response: { 200: RecordBatchResponse } } },
        async (request) => ({ results: await callbacks.failMany(request.body.jobs) }),
      );
      // Starts, completions and failures together: one request and one transaction for all.
      internal.post(
        '/jobs/callbacks',
        { schema: { ...common, body: CallbacksBody, response: { 200: CallbacksResponse } } },
        async (request) => callbacks.many(request.body),
      );
    },
    { prefix: '/internal' },
  );
}
