import type { App } from '../../../app-types.ts';
import { AdminWebhookListQuery, AdminWebhookListSchema } from '../../webhooks/index.ts';
import type { AdminRouteOptions } from './route-options.ts';

/** Every user's webhook endpoints, so an operator sees which were disabled after a 410 Gone. */
export default async function webhookRoutes(app: App, { service }: AdminRouteOptions) {
  app.get(
    '/webhooks',
    {
      schema: {
        tags: ['admin'],
        summary: 'Webhook endpoints of every user',
        description:
          '`disabled=true` lists the endpoints disabled because they answered `410 Gone` ' +
          '(`disabled_at`, `disabled_reason`); no deliveries are enqueued to those.',
        security: [{ bearer: [] }],
        querystring: AdminWebhookListQuery,
        response: { 200: AdminWebhookListSchema },
      },
    },
    async (request) => service.listWebhooks(request.query),
  );
}
