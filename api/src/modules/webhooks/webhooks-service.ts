import { randomBytes } from 'node:crypto';
import { assertSafeUrl, type Config, UnsafeUrlError } from '@notes/contracts';
import { uuidv7 } from 'uuidv7';
import type { Database } from '../../platform/db/client.ts';
import { BadRequestError, ConflictError, NotFoundError } from '../../platform/errors/index.ts';
import {
  type CreatedWebhook,
  type CreateWebhookBody,
  MAX_WEBHOOKS_PER_USER,
  type PublicWebhook,
  WEBHOOK_EVENTS,
} from './schemas.ts';
import {
  countWebhooksByUser,
  deleteWebhookForUser,
  findWebhookForUser,
  insertWebhook,
  listWebhooksByUser,
  toPublicWebhook,
} from './webhooks-repository.ts';

/** Standard Webhooks: `whsec_` + base64 of random bytes (24 is the spec's lower bound; we use 32). */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export interface WebhooksServiceDeps {
  database: Database;
  config: Config;
}

/** A user's webhook endpoints: each user sees and changes only their own (another's is a 404). */
export class WebhooksService {
  constructor(private readonly deps: WebhooksServiceDeps) {}

  async list(userId: string): Promise<{ data: PublicWebhook[]; total: number }> {
    const rows = await listWebhooksByUser(this.deps.database.db, userId);
    return { data: rows.map(toPublicWebhook), total: rows.length };
  }

  async get(userId: string, id: string): Promise<PublicWebhook> {
    const row = await findWebhookForUser(this.deps.database.db, userId, id);
    if (!row) throw new NotFoundError('No such webhook endpoint.');
    return toPublicWebhook(row);
  }

  /**
   * Creates an endpoint after the SSRF check (the consumers check again at every delivery, as
   * DNS may change). The per-user cap is checked before the insert, so concurrent creations can
   * overshoot it by a few: it bounds abuse, it is not an invariant anything relies on.
   */
  async create(userId: string, input: CreateWebhookBody): Promise<CreatedWebhook> {
    let url: URL;
    try {
      url = await assertSafeUrl(input.url, {
        allowPrivateNetworks: this.deps.config.webhook.allowPrivateNetworks,
      });
    } catch (err) {
      if (err instanceof UnsafeUrlError) throw new BadRequestError(err.message, { field: 'url' });
      throw err;
    }
    const db = this.deps.database.db;
    if ((await countWebhooksByUser(db, userId)) >= MAX_WEBHOOKS_PER_USER) {
      throw new ConflictError(`A user may have at most ${MAX_WEBHOOKS_PER_USER} webhook endpoints.`, 'webhook-limit');
    }
    const events = input.events ? [...new Set(input.events)] : [WEBHOOK_EVENTS[0]];
    const row = await insertWebhook(this.deps.database.writer, {
      id: uuidv7(),
      userId,
      url: url.href,
      events,
      secret: generateWebhookSecret(),
      createdAt: new Date(),
      disabledAt: null,
      disabledReason: null,
    });
    return { ...toPublicWebhook(row), secret: row.secret };
  }

  async remove(userId: string, id: string): Promise<void> {
    if (!(await deleteWebhookForUser(this.deps.database.writer, userId, id))) {
      throw new NotFoundError('No such webhook endpoint.');
    }
  }
}
