import type { MySqlTable } from 'drizzle-orm/mysql-core';
import { parseJsonColumn } from '../../platform/db/client.ts';
import { deadLetters, jobs, notes, processedMessages, webhooks } from '../../platform/db/schema.ts';
import { namesOf, type Statement, sqlValue } from '../../platform/db/sql-writer.ts';

/**
 * SQL for the consumers' callbacks, a batch of jobs at a time: one statement per step whatever
 * the batch size, sent on the write path's multi-statement connection (platform/db/sql-writer.ts) so a
 * batch costs three round trips in all: lock the jobs and read their keys; lock the notes and
 * read the webhooks; write everything and commit. Callbacks are the API's busiest work under
 * load, and drizzle's query building plus one round trip per statement were a fifth of its CPU
 * (issue 6 profile). Table and column names come from the drizzle schema, values are always
 * placeholders.
 */

export type JobRow = typeof jobs.$inferSelect;
export type NoteRow = typeof notes.$inferSelect;
export type WebhookRow = Omit<typeof webhooks.$inferSelect, 'events'> & { events: string[] };

const JOBS = namesOf(jobs);
const NOTES = namesOf(notes);
const WEBHOOKS = namesOf(webhooks);
const KEYS = namesOf(processedMessages);
const DEAD = namesOf(deadLetters);

/** Column name → property, per table (rows from mysql2 come keyed by column name). */
const properties = new WeakMap<MySqlTable, [string, string][]>();
function fromRow<T>(table: MySqlTable, raw: Record<string, unknown>): T {
  let pairs = properties.get(table);
  if (!pairs) {
    pairs = [...namesOf(table).columns].map(([property, column]) => [column, property]);
    properties.set(table, pairs);
  }
  const row: Record<string, unknown> = {};
  // DATETIME columns arrive as Dates (the pool reads them in UTC), JSON columns as text.
  for (const [column, property] of pairs) row[property] = raw[column];
  return row as T;
}

export const toJobRow = (raw: Record<string, unknown>): JobRow => fromRow<JobRow>(jobs, raw);

export function toNoteRow(raw: Record<string, unknown>): NoteRow {
  const row = fromRow<NoteRow>(notes, raw);
  return { ...row, result: parseJsonColumn(row.result) };
}

export function toWebhookRow(raw: Record<string, unknown>): WebhookRow {
  const row = fromRow<WebhookRow>(webhooks, raw);
  return { ...row, events: parseJsonColumn<string[]>(row.events) ?? [] };
}

const unique = (values: readonly string[]) => [...new Set(values)];

/**
 * The jobs, locked for the rest of the transaction: callbacks for one job are serialised. InnoDB
 * locks an IN list on the primary key in key order, so two batches that overlap cannot deadlock
 * on their jobs.
 */
export function lockJobs(ids: readonly string[]): Statement {
  return { sql: `SELECT * FROM \`${JOBS.table}\` WHERE \`id\` IN (?) FOR UPDATE`, values: [unique(ids)] };
}

/** Locked after the jobs (everywhere in the same order: job, then note). */
export function lockNotes(ids: readonly string[]): Statement {
  return { sql: `SELECT * FROM \`${NOTES.table}\` WHERE \`id\` IN (?) FOR UPDATE`, values: [unique(ids)] };
}

/**
 * The processed-message keys that exist already. A plain read is enough: a key is only ever
 * written by a callback holding its job's row lock, which the caller holds now. (A locking read
 * would take gap locks that concurrent batches' inserts deadlock on.)
 */
export function existingMessageKeys(keys: readonly string[]): Statement {
  const column = KEYS.columns.get('messageKey');
  return {
    sql: `SELECT \`${column}\` AS \`key\` FROM \`${KEYS.table}\` WHERE \`${column}\` IN (?)`,
    values: [unique(keys)],
  };
}

/**
 * The promotions under way among these jobs' dead letters (job id and the run it promotes to),
 * locked after the jobs like everywhere else (docs/jobs.md, "Promote").
 */
export function pendingPromotions(jobIds: readonly string[]): Statement {
  const job = DEAD.columns.get('jobId');
  const run = DEAD.columns.get('promoteRun');
  return {
    sql: `SELECT \`${job}\` AS \`job_id\`, \`${run}\` AS \`run\` FROM \`${DEAD.table}\` WHERE \`${job}\` IN (?) AND \`${run}\` IS NOT NULL FOR UPDATE`,
    values: [unique(jobIds)],
  };
}

export function deleteDeadLetters(jobIds: readonly string[]): Statement {
  return {
    sql: `DELETE FROM \`${DEAD.table}\` WHERE \`${DEAD.columns.get('jobId')}\` IN (?)`,
    values: [unique(jobIds)],
  };
}

export function findWebhooks(ids: readonly string[]): Statement {
  return { sql: `SELECT * FROM \`${WEBHOOKS.table}\` WHERE \`id\` IN (?)`, values: [unique(ids)] };
}

/** Each owner's endpoints, oldest first (subscriptions are filtered in code: events is a JSON array). */
export function webhooksOfUsers(userIds: readonly string[]): Statement {
  const user = WEBHOOKS.columns.get('userId');
  const created = WEBHOOKS.columns.get('createdAt');
  return {
    sql: `SELECT * FROM \`${WEBHOOKS.table}\` WHERE \`${user}\` IN (?) ORDER BY \`${created}\`, \`id\``,
    values: [unique(userIds)],
  };
}

/** Each owner's enabled endpoints subscribed to `event`, in the order the rows came. */
export function subscribedByUser(rows: readonly WebhookRow[], event: string): Map<string, WebhookRow[]> {
  const byUser = new Map<string, WebhookRow[]>();
  for (const row of rows) {
    if (!row.events.includes(event) || row.disabledAt) continue;
    const list = byUser.get(row.userId) ?? [];
    list.push(row);
    byUser.set(row.userId, list);
  }
  return byUser;
}

/**
 * Disables an endpoint that answered `410 Gone` (docs/isolation.md). The first report wins: a
 * later one leaves the original time and reason.
 */
export function disableWebhook(id: string, now: Date, reason: string): Statement {
  const at = WEBHOOKS.columns.get('disabledAt');
  const why = WEBHOOKS.columns.get('disabledReason');
  return {
    sql: `UPDATE \`${WEBHOOKS.table}\` SET \`${at}\` = ?, \`${why}\` = ? WHERE \`id\` = ? AND \`${at}\` IS NULL`,
    values: [now, reason.slice(0, 255), id],
  };
}

/**
 * Records that callbacks were applied. A plain INSERT: a key that exists already fails the
 * statement with a duplicate key (the rest of the batch is not run, and the caller rolls back).
 */
export function insertMessageKeys(keys: readonly string[], now: Date): Statement {
  const names = ['messageKey', 'createdAt'].map((p) => `\`${KEYS.columns.get(p)}\``).join(',');
  return {
    sql: `INSERT INTO \`${KEYS.table}\` (${names}) VALUES ${keys.map(() => '(?,?)').join(',')}`,
    values: keys.flatMap((key) => [key, now]),
  };
}

type Patch = Record<string, unknown>;

/**
 * Applies a patch per row with as few UPDATEs as the patches allow: rows whose patches set the
 * same columns share one statement, a column whose value differs between them becomes
 * `CASE id WHEN … THEN … END`.
 */
export function updateRows<T extends typeof jobs | typeof notes>(
  table: T,
  patches: ReadonlyMap<string, Partial<T['$inferSelect']>>,
): Statement[] {
  const names = namesOf(table);
  const groups = new Map<string, [string, Patch][]>();
  for (const [id, patch] of patches) {
    const signature = Object.keys(patch).sort().join(',');
    if (!signature) continue;
    const group = groups.get(signature) ?? [];
    group.push([id, patch as Patch]);
    groups.set(signature, group);
  }
  const statements: Statement[] = [];
  for (const [signature, rows] of groups) {
    const sets: string[] = [];
    const values: unknown[] = [];
    for (const property of signature.split(',')) {
      const column = names.columns.get(property);
      if (!column) throw new Error(`${names.table} has no column for ${property}`);
      const columnValues = rows.map(([, patch]) => sqlValue(patch[property]));
      if (columnValues.every((v) => sameValue(v, columnValues[0]))) {
        sets.push(`\`${column}\` = ?`);
        values.push(columnValues[0]);
        continue;
      }
      sets.push(`\`${column}\` = CASE \`id\` ${rows.map(() => 'WHEN ? THEN ?').join(' ')} END`);
      for (const [i, [id]] of rows.entries()) values.push(id, columnValues[i]);
    }
    values.push(rows.map(([id]) => id));
    statements.push({ sql: `UPDATE \`${names.table}\` SET ${sets.join(', ')} WHERE \`id\` IN (?)`, values });
  }
  return statements;
}

/** JSON values are compared as the text sqlValue made of them. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  return a === b;
}
