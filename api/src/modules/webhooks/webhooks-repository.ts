import { and, asc, count, desc, eq, isNotNull, isNull, type SQL } from 'drizzle-orm';
import { type DbOrTx, parseJsonColumn } from '../../platform/db/client.ts';
import { webhooks } from '../../platform/db/schema.ts';
import { rowDelete, rowInsert, type Writer, within } from '../../platform/db/sql-writer.ts';
import type { PublicWebhook, WebhookEvent } from './schemas.ts';

/**
 * The webhooks table: all SQL about endpoints lives here. Reads are scoped by user except
 * `getWebhookById`, which the internal (service-only) routes use to fetch an endpoint with its
 * secret for a delivery.
 */

export type WebhookRow = typeof webhooks.$inferSelect;

/** MariaDB hands JSON columns back as strings: normalise `events` on every read. */
function fromDb(row: WebhookRow): WebhookRow {
  return { ...row, events: parseJsonColumn<string[]>(row.events) ?? [] };
}

/** The public shape: never the secret. */
export function toPublicWebhook(row: WebhookRow): PublicWebhook {
  return {
    id: row.id,
    url: row.url,
    events: row.events as WebhookEvent[],
    created_at: row.createdAt.toISOString(),
    disabled_at: row.disabledAt ? row.disabledAt.toISOString() : null,
    disabled_reason: row.disabledReason ?? null,
  };
}

export async function insertWebhook(w: Writer, row: WebhookRow): Promise<WebhookRow> {
  await within(w, async (tx) => tx.insert(rowInsert(webhooks, row)));
  return row;
}

export async function listWebhooksByUser(db: DbOrTx, userId: string): Promise<WebhookRow[]> {
  const rows = await db
    .select()
    .from(webhooks)
    .where(eq(webhooks.userId, userId))
    .orderBy(asc(webhooks.createdAt), asc(webhooks.id));
  return rows.map(fromDb);
}

export async function countWebhooksByUser(db: DbOrTx, userId: string): Promise<number> {
  const [row] = await db.select({ n: count() }).from(webhooks).where(eq(webhooks.userId, userId));
  return Number(row?.n ?? 0);
}

/** One of the user's own endpoints; another user's is indistinguishable from a missing one. */
export async function findWebhookForUser(db: DbOrTx, userId: string, id: string): Promise<WebhookRow | null> {
  const [row] = await db
    .select()
    .from(webhooks)
    .where(and(eq(webhooks.id, id), eq(webhooks.userId, userId)))
    .limit(1);
  return row ? fromDb(row) : null;
}

/** Deletes one of the user's endpoints; false when there was none. */
export async function deleteWebhookForUser(w: Writer, userId: string, id: string): Promise<boolean> {
  return (await within(w, (tx) => tx.execute(rowDelete(webhooks, { id, userId })))) > 0;
}

/** Every user's endpoints for the admin, newest first; `disabled` filters on the 410 state. */
export async function listAllWebhooks(
  db: DbOrTx,
  q: { limit: number; offset: number; disabled?: boolean },
): Promise<{ items: WebhookRow[]; total: number }> {
  const where: SQL | undefined =
    q.disabled === undefined ? undefined : q.disabled ? isNotNull(webhooks.disabledAt) : isNull(webhooks.disabledAt);
  const [rows, [totalRow]] = await Promise.all([
    db
      .select()
      .from(webhooks)
      .where(where)
      .orderBy(desc(webhooks.createdAt), desc(webhooks.id))
      .limit(q.limit)
      .offset(q.offset),
    db.select({ n: count() }).from(webhooks).where(where),
  ]);
  return { items: rows.map(fromDb), total: Number(totalRow?.n ?? 0) };
}

/** Any endpoint by id, with its secret: for the delivery path only (internal routes). */
export async function getWebhookById(db: DbOrTx, id: string): Promise<WebhookRow | null> {
  const [row] = await db.select().from(webhooks).where(eq(webhooks.id, id)).limit(1);
  return row ? fromDb(row) : null;
}

/**
 * The user's endpoints subscribed to an event: the API enqueues one `webhook.deliver` job per
 * row when a note is processed (call it in the callback's transaction).
 */
export async function listWebhooksForEvent(db: DbOrTx, userId: string, event: WebhookEvent): Promise<WebhookRow[]> {
  const rows = await listWebhooksByUser(db, userId);
  return rows.filter((r) => r.events.includes(event) && !r.disabledAt);
}
