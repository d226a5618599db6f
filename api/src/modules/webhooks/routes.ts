import type { App } from '../../app-types.ts';
import {
  CreatedWebhookSchema,
  CreateWebhookBodySchema,
  WebhookListSchema,
  WebhookParamsSchema,
  WebhookSchema,
} from './schemas.ts';
import type { WebhooksService } from './webhooks-service.ts';

/** A user's webhook endpoints (docs/guarantees.md). */
export default async function webhookRoutes(app: App, { webhooks }: { webhooks: WebhooksService }) {
  const common = { tags: ['webhooks'], security: [{ bearer: [] }] };

  app.get(
    '/api/webhooks',
    {
      preHandler: app.authenticate,
      schema: { ...common, summary: "The caller's endpoints (without secrets)", response: { 200: WebhookListSchema } },
    },
    async (request) => webhooks.list(request.user.id),
  );

  app.post(
    '/api/webhooks',
    {
      preHandler: [app.authenticate, app.limitUserWrites],
      schema: {
        ...common,
        summary: 'Add an endpoint; the signing secret is in this response only',
        description:
          'The URL must be http(s) and resolve only to public addresses (400 otherwise), unless the server ' +
          'runs with WEBHOOK_ALLOW_PRIVATE_NETWORKS=true. `events` defaults to ["note.processed"].',
        body: CreateWebhookBodySchema,
        response: { 201: CreatedWebhookSchema },
      },
    },
    async (request, reply) => {
      const created = await webhooks.create(request.user.id, request.body);
      return reply.status(201).header('location', `/api/webhooks/${created.id}`).send(created);
    },
  );

  app.get(
    '/api/webhooks/:id',
    {
      preHandler: app.authenticate,
      schema: { ...common, summary: 'One endpoint', params: WebhookParamsSchema, response: { 200: WebhookSchema } },
    },
    async (request) => webhooks.get(request.user.id, request.params.id),
  );

  app.delete(
    '/api/webhooks/:id',
    {
      preHandler: [app.authenticate, app.limitUserWrites],
      schema: {
        ...common,
        summary: 'Remove an endpoint',
        description: 'Deliveries still queued for it are skipped.',
        params: WebhookParamsSchema,
      },
    },
    async (request, reply) => {
      await webhooks.remove(request.user.id, request.params.id);
      return reply.status(204).send();
    },
  );
}
