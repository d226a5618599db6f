import { AuditEntry, AuditListQuery, listOf, QueuesResponse, StatsResponse } from '@notes/contracts/admin-api';
import type { App } from '../../../app-types.ts';
import { withNextLink } from '../../../platform/http/link-header.ts';
import type { AdminRouteOptions } from './route-options.ts';

const security = [{ bearer: [] }];

/** What the dashboard polls (queues, stats) and the audit log. */
export default async function opsRoutes(app: App, { service }: AdminRouteOptions) {
  app.get(
    '/queues',
    {
      schema: {
        tags: ['admin'],
        summary: 'Depth and consumers of notes.jobs, each retry queue and notes.dlq',
        description:
          '`ready` and `consumers` come from a passive declare. `unacked` is null (that needs the ' +
          "broker's management API); `in_flight_jobs` counts jobs being processed instead.",
        security,
        response: { 200: QueuesResponse },
      },
    },
    async () => service.queues(),
  );

  app.get(
    '/stats',
    {
      schema: {
        tags: ['admin'],
        summary: 'Status counts, throughput (jobs finished per minute, last 15 minutes) and DLQ size',
        security,
        response: { 200: StatsResponse },
      },
    },
    async () => service.stats(),
  );

  app.get(
    '/audit',
    {
      schema: {
        tags: ['admin'],
        summary: 'The audit log of admin actions, newest first',
        security,
        querystring: AuditListQuery,
        response: { 200: listOf(AuditEntry) },
      },
    },
    async (request, reply) => withNextLink(request, reply, await service.listAudit(request.query)),
  );
}
