import { inArray, type SQL, sql } from 'drizzle-orm';
import type { MySqlColumn } from 'drizzle-orm/mysql-core';
import type { ResultSetHeader } from 'mysql2';
import type { Tx } from '../db/client.ts';
import { parseJsonColumn } from '../db/client.ts';
import { jobs, notes, processedMessages, webhooks } from '../db/schema.ts';

/**
 * SQL for the consumers' callbacks, a batch of jobs at a time: one statement per step whatever
 * the batch size. Every function runs in the caller's transaction.
 */

export type JobRow = typeof jobs.$inferSelect;
export type NoteRow = typeof notes.$inferSelect;
export type WebhookRow = Omit<typeof webhooks.$inferSelect, 'events'> & { events: string[] };

/**
 * The jobs, locked for the rest of the transaction: callbacks for one job are serialised. InnoDB
 * locks an IN list on the primary key in key order, so two batches that overlap cannot deadlock
 * on their jobs.
 */
export async function lockJobs(tx: Tx, ids: readonly string[]): Promise<Map<string, JobRow>> {
  if (ids.length === 0) return new Map();
  const rows = await tx
    .select()
    .from(jobs)
    .where(inArray(jobs.id, [...new Set(ids)]))
    .for('update');
  return new Map(rows.map((row) => [row.id, row]));
}

/** Locked after the jobs (everywhere in the same order: job, then note). */
export async function lockNotes(tx: Tx, ids: readonly string[]): Promise<Map<string, NoteRow>> {
  if (ids.length === 0) return new Map();
  const rows = await tx
    .select()
    .from(notes)
    .where(inArray(notes.id, [...new Set(ids)]))
    .for('update');
  return new Map(rows.map((row) => [row.id, { ...row, result: parseJsonColumn(row.result) }]));
}

export async function findWebhooks(tx: Tx, ids: readonly string[]): Promise<Map<string, WebhookRow>> {
  if (ids.length === 0) return new Map();
  const rows = await tx
    .select()
    .from(webhooks)
    .where(inArray(webhooks.id, [...new Set(ids)]));
  return new Map(rows.map((row) => [row.id, { ...row, events: parseJsonColumn<string[]>(row.events) ?? [] }]));
}

/** Each owner's endpoints subscribed to an event, oldest first (events is a JSON array; lists are short). */
export async function listWebhooksForEvent(
  tx: Tx,
  userIds: readonly string[],
  event: string,
): Promise<Map<string, WebhookRow[]>> {
  const byUser = new Map<string, WebhookRow[]>();
  if (userIds.length === 0) return byUser;
  const rows = await tx
    .select()
    .from(webhooks)
    .where(inArray(webhooks.userId, [...new Set(userIds)]))
    .orderBy(webhooks.createdAt, webhooks.id);
  for (const row of rows) {
    const events = parseJsonColumn<string[]>(row.events) ?? [];
    if (!events.includes(event)) continue;
    const list = byUser.get(row.userId) ?? [];
    list.push({ ...row, events });
    byUser.set(row.userId, list);
  }
  return byUser;
}

/**
 * The processed-message keys that exist already. A plain read is enough: a key is only ever
 * written by a callback holding its job's row lock, which the caller holds now. (A locking read
 * would take gap locks that concurrent batches' inserts deadlock on.)
 */
export async function existingMessageKeys(tx: Tx, keys: readonly string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const rows = await tx
    .select({ key: processedMessages.messageKey })
    .from(processedMessages)
    .where(inArray(processedMessages.messageKey, [...new Set(keys)]));
  return new Set(rows.map((r) => r.key));
}

/** Records that callbacks were applied; returns how many keys were new (the caller checks all were). */
export async function insertMessageKeys(tx: Tx, keys: readonly string[], now: Date): Promise<number> {
  if (keys.length === 0) return 0;
  const [header] = (await tx
    .insert(processedMessages)
    .ignore()
    .values(keys.map((messageKey) => ({ messageKey, createdAt: now })))) as unknown as [ResultSetHeader];
  return header.affectedRows;
}

type Patch = Record<string, unknown>;
type Updatable = typeof jobs | typeof notes;

/**
 * Applies a patch per row with as few UPDATEs as the patches allow: rows whose patches set the
 * same columns share one statement, a column whose value differs between them becomes
 * `CASE id WHEN … THEN … END` (each value encoded as its column encodes it: dates, JSON).
 */
export async function updateRows<T extends Updatable>(
  tx: Tx,
  table: T,
  patches: ReadonlyMap<string, Partial<T['$inferSelect']>>,
): Promise<void> {
  const groups = new Map<string, [string, Patch][]>();
  for (const [id, patch] of patches) {
    const signature = Object.keys(patch).sort().join(',');
    if (!signature) continue;
    const group = groups.get(signature) ?? [];
    group.push([id, patch as Patch]);
    groups.set(signature, group);
  }
  const columns = table as unknown as Record<string, MySqlColumn>;
  for (const [signature, rows] of groups) {
    const set: Record<string, unknown> = {};
    for (const name of signature.split(',')) {
      const column = columns[name] as MySqlColumn;
      const values = rows.map(([, patch]) => patch[name]);
      if (values.every((v) => sameValue(v, values[0]))) {
        set[name] = values[0];
        continue;
      }
      const whens: SQL[] = rows.map(([id, patch]) => sql`WHEN ${id} THEN ${sql.param(patch[name], column)}`);
      set[name] = sql`CASE ${table.id} ${sql.join(whens, sql` `)} END`;
    }
    await tx
      .update(table as typeof jobs)
      .set(set)
      .where(
        inArray(
          (table as typeof jobs).id,
          rows.map(([id]) => id),
        ),
      );
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (a !== null && typeof a === 'object') return JSON.stringify(a) === JSON.stringify(b);
  return a === b;
}
