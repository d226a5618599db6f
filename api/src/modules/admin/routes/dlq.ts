import {
  DiscardBody,
  DiscardResult,
  DlqEntry,
  DlqListQuery,
  JobIdParams,
  listOf,
  PromoteBody,
  PromoteResult,
} from '@notes/contracts/admin-api';
import type { App } from '../../../app-types.ts';
import { withNextLink } from '../../../platform/http/link-header.ts';
import type { AdminRouteOptions } from './route-options.ts';

const security = [{ bearer: [] }];

/** The DLQ: dead jobs with their reasons; promote them back to work or discard them. */
export default async function dlqRoutes(app: App, { service }: AdminRouteOptions) {
  app.get(
    '/dlq',
    {
      schema: {
        tags: ['admin'],
        summary: 'Dead jobs with reason, attempts and time of death',
        description: '`q` is words of the reason (docs/data.md).',
        security,
        querystring: DlqListQuery,
        response: { 200: listOf(DlqEntry) },
      },
    },
    async (request, reply) => withNextLink(request, reply, await service.listDlq(request.query)),
  );

  app.post(
    '/dlq/promote',
    {
      schema: {
        tags: ['admin'],
        summary: 'Move dead jobs back to work (attempts reset, jobs queued)',
        description:
          'Selected (`job_ids`), all matching `filter`, or (neither) everything in notes.dlq. `dry_run` ' +
          'counts without moving. Messages dead-lettered as malformed are skipped unless `include_malformed`. ' +
          'Audited as `dlq.promote`.',
        security,
        body: PromoteBody,
        response: { 200: PromoteResult },
      },
    },
    async (request) => service.promote(request.user.id, request.body),
  );

  app.delete(
    '/dlq/:jobId',
    {
      // The body is optional: a DELETE without one is validated as `{}` (no reason given).
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        tags: ['admin'],
        summary: 'Discard a dead job: its message leaves notes.dlq, the job becomes discarded',
        description: 'A job that is not dead is a 409. Audited as `dlq.discard`.',
        security,
        params: JobIdParams,
        body: DiscardBody,
        response: { 200: DiscardResult },
      },
    },
    async (request) => service.discard(request.user.id, request.params.jobId, request.body?.reason),
  );
}
