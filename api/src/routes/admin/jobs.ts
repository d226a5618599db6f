import type { App } from '../../app-types.ts';
import { AdminJob, IdParams, JobListQuery, listOf } from '../../schemas/admin.ts';
import { withNextLink } from '../link-header.ts';
import type { AdminRouteOptions } from './route-options.ts';

const security = [{ bearer: [] }];

/** Jobs of every user by status, kind, priority, note or error text. */
export default async function jobRoutes(app: App, { service }: AdminRouteOptions) {
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
    { schema: { tags: ['admin'], summary: 'One job', security, params: IdParams, response: { 200: AdminJob } } },
    async (request) => service.getJob(request.params.id),
  );
}
