import { eq } from 'drizzle-orm';
import type { ResultSetHeader } from 'mysql2';
import type { Tx } from '../db/client.ts';
import { parseJsonColumn } from '../db/client.ts';
import { jobs, notes, processedMessages, webhooks } from '../db/schema.ts';

/** SQL for the consumers' callbacks. Every function runs in the caller's transaction. */

export type JobRow = typeof jobs.$inferSelect;
export type NoteRow = typeof notes.$inferSelect;
export type WebhookRow = Omit<typeof webhooks.$inferSelect, 'events'> & { events: string[] };

/**
 * Records that a callback was applied. False when the key exists already: the callback is a
 * duplicate. Called in the update's own transaction, so the key exists exactly when the update
 * does; a concurrent duplicate waits on the unique key and then sees it.
 */
export async function claimMessageKey(tx: Tx, key: string, now: Date): Promise<boolean> {
  const [header] = (await tx
    .insert(processedMessages)
    .ignore()
    .values({ messageKey: key, createdAt: now })) as unknown as [ResultSetHeader];
  return header.affectedRows === 1;
}

/** The job, locked for the rest of the transaction (callbacks for one job are serialised). */
export async function lockJob(tx: Tx, jobId: string): Promise<JobRow | undefined> {
  const [row] = await tx.select().from(jobs).where(eq(jobs.id, jobId)).for('update');
  return row;
}

export async function lockNote(tx: Tx, noteId: string): Promise<NoteRow | undefined> {
  const [row] = await tx.select().from(notes).where(eq(notes.id, noteId)).for('update');
  if (!row) return undefined;
  return { ...row, result: parseJsonColumn(row.result) };
}

export async function findWebhook(tx: Tx, webhookId: string): Promise<WebhookRow | undefined> {
  const [row] = await tx.select().from(webhooks).where(eq(webhooks.id, webhookId));
  if (!row) return undefined;
  return { ...row, events: parseJsonColumn<string[]>(row.events) ?? [] };
}

/** The owner's endpoints subscribed to an event (events is a JSON array; filtered here, lists are short). */
export async function listWebhooksForEvent(tx: Tx, userId: string, event: string): Promise<WebhookRow[]> {
  const rows = await tx.select().from(webhooks).where(eq(webhooks.userId, userId)).orderBy(webhooks.createdAt);
  return rows
    .map((row) => ({ ...row, events: parseJsonColumn<string[]>(row.events) ?? [] }))
    .filter((row) => row.events.includes(event));
}

export async function updateJob(tx: Tx, jobId: string, patch: Partial<Omit<JobRow, 'id'>>): Promise<void> {
  await tx.update(jobs).set(patch).where(eq(jobs.id, jobId));
}

export async function updateNote(tx: Tx, noteId: string, patch: Partial<Omit<NoteRow, 'id'>>): Promise<void> {
  await tx.update(notes).set(patch).where(eq(notes.id, noteId));
}
