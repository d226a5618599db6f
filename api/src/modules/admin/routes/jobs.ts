import { JobDetail, RetryResult } from '@notes/contracts';
import { AdminJob, IdParams, JobListQuery, listOf } from '@notes/contracts/admin-api';
import type { App } from '../../../app-types.ts';
import { withNextLink } from '../../../platform/http/link-header.ts';
import type { AdminRouteOptions } from './route-options.ts';

const security = [{ bearer: [] }];

/** Jobs of every user by status, kind, priority, note or error text. */
export default async function jobRoutes(app: App, { service, operations }: AdminRouteOptions) {
  app.get(
    '/jobs',
    {
      schema: {
        tags: ['admin'],
        summary: 'Jobs, filtered and sorted',
        description: '`q` is words of the last error or the dead reason (docs/data.md).',
        security,
        querystring: JobListQuery,
        response: { 200: listOf(AdminJob) },
      },
    },
    async (request, reply) => withNextLink(request, reply, await service.listJobs(request.query)),
  );

  app.get(
    '/jobs/:id',
    {
      schema: {
        tags: ['admin'],
        summary: 'One job with its message (`payload`) and its attempts (`history`, oldest first)',
        security,
        params: IdParams,
        response: { 200: JobDetail },
      },
    },
    async (request) => operations.detail(request.params.id),
  );

  app.post(
    '/jobs/:id/retry',
    {
      schema: {
        tags: ['admin'],
        summary: 'Run a job waiting out its backoff now',
        description:
          'Only a `failed` job (a retry waiting) can be retried now; any other is a 409. Audited as `job.retry`.',
        security,
        params: IdParams,
        response: { 202: RetryResult },
      },
    },
    async (request, reply) => reply.code(202).send(await operations.retryNow(request.user.id, request.params.id)),
  );
}
