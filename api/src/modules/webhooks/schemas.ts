import { type Static, Type } from '@sinclair/typebox';

/**
 * Webhook endpoints (docs/guarantees.md). The signing secret is in the creation response only:
 * every other response is serialised through `WebhookSchema`, which has no `secret`, so it can't
 * leak by accident.
 */

/** Event types an endpoint can subscribe to. */
export const WEBHOOK_EVENTS = ['note.processed'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** Endpoints per user: each one multiplies the deliveries every processed note causes. */
export const MAX_WEBHOOKS_PER_USER = 20;

const EventSchema = Type.Unsafe<WebhookEvent>({ type: 'string', enum: [...WEBHOOK_EVENTS] });

export const WebhookSchema = Type.Object(
  {
    id: Type.String(),
    url: Type.String({ description: 'Where deliveries are POSTed.' }),
    events: Type.Array(EventSchema),
    created_at: Type.String({ format: 'date-time' }),
    disabled_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
      description: 'When the endpoint was disabled because it answered `410 Gone`; null while it is enabled.',
    }),
    disabled_reason: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);
export type PublicWebhook = Static<typeof WebhookSchema>;

export const CreatedWebhookSchema = Type.Object(
  {
    ...WebhookSchema.properties,
    secret: Type.String({
      description:
        'Standard Webhooks signing secret (`whsec_` + base64). Shown only in this response: store it now. ' +
        'Verify `webhook-signature` as HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>`.',
    }),
  },
  { additionalProperties: false },
);
export type CreatedWebhook = Static<typeof CreatedWebhookSchema>;

export const CreateWebhookBodySchema = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2048, description: 'http(s); must resolve to a public address.' }),
    events: Type.Optional(
      Type.Array(EventSchema, { minItems: 1, uniqueItems: true, description: 'Default: ["note.processed"].' }),
    ),
  },
  { additionalProperties: false },
);
export type CreateWebhookBody = Static<typeof CreateWebhookBodySchema>;

export const WebhookListSchema = Type.Object(
  { data: Type.Array(WebhookSchema), total: Type.Integer() },
  { additionalProperties: false },
);

/** The admin's view of any user's endpoint: the public shape plus its owner. */
export const AdminWebhookSchema = Type.Object(
  { ...WebhookSchema.properties, user_id: Type.String() },
  { additionalProperties: false },
);
export type AdminWebhook = Static<typeof AdminWebhookSchema>;

export const AdminWebhookListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 25 }),
    offset: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }),
    /** true: only endpoints disabled after a `410 Gone`; false: only enabled ones. */
    disabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type AdminWebhookListQuery = Static<typeof AdminWebhookListQuery>;

export const AdminWebhookListSchema = Type.Object(
  { data: Type.Array(AdminWebhookSchema), total: Type.Integer() },
  { additionalProperties: false },
);

export const WebhookParamsSchema = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: false },
);
