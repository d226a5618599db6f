/** What other modules may import from this one (docs/architecture.md); the rest of the folder is private to it. */
export { type AdminWebhook, AdminWebhookListQuery, AdminWebhookListSchema } from './schemas.ts';
export { listAllWebhooks, toPublicWebhook } from './webhooks-repository.ts';
