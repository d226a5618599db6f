import { normalizeEmail } from '@notes/contracts';
import type { PublicUser, UserSortField } from '@notes/contracts/auth-api';
import { and, eq, like, or, type SQL } from 'drizzle-orm';
import type { DbOrTx } from '../../platform/db/client.ts';
import { finishPage, planPage } from '../../platform/db/keyset.ts';
import { type Role, users } from '../../platform/db/schema.ts';
import { Increment, rowInsert, rowUpdate, type Writer, within } from '../../platform/db/sql-writer.ts';
import { cappedCount, type Total } from '../../platform/db/totals.ts';
import { userOrder } from '../notes/index.ts';

/**
 * The users table: all SQL about users lives here. Reads take the database or the caller's
 * transaction first, writes the writer or the caller's write transaction, so a service decides
 * the transaction. Emails are stored and
 * looked up in `normalizeEmail`'s form and the column compares them byte for byte.
 */

export type UserRow = typeof users.$inferSelect;

export { normalizeEmail };

/** The public shape: never the password hash. */
export function toPublicUser(row: UserRow): PublicUser {
  return {
    id: row.id,
    name: row.name,
    email: row.email,
    role: row.role,
    disabled: row.disabled,
    created_at: row.createdAt.toISOString(),
  };
}

export interface NewUser {
  id: string;
  name: string;
  email: string;
  passwordHash: string;
  role?: Role;
  now: Date;
}

/** Inserts a user; a taken email surfaces as a duplicate-key error (see `isDuplicateKey`). */
export async function insertUser(w: Writer, user: NewUser): Promise<UserRow> {
  const row: UserRow = {
    id: user.id,
    name: user.name,
    email: normalizeEmail(user.email),
    passwordHash: user.passwordHash,
    role: user.role ?? 'user',
    disabled: false,
    tokenVersion: 0,
    createdAt: user.now,
    updatedAt: user.now,
  };
  await within(w, async (tx) => tx.insert(rowInsert(users, row)));
  return row;
}

export async function getUserById(db: DbOrTx, id: string): Promise<UserRow | null> {
  const [row] = await db.select().from(users).where(eq(users.id, id)).limit(1);
  return row ?? null;
}

export async function findUserByEmail(db: DbOrTx, email: string): Promise<UserRow | null> {
  const [row] = await db
    .select()
    .from(users)
    .where(eq(users.email, normalizeEmail(email)))
    .limit(1);
  return row ?? null;
}

export interface UserChanges {
  name?: string;
  role?: Role;
  disabled?: boolean;
  passwordHash?: string;
  /** Raise the token version: every token issued before stops working (docs/security.md). */
  revokeTokens?: boolean;
}

/** Applies the given changes; returns the updated row, or null when there is no such user. */
export async function updateUser(
  w: Writer,
  id: string,
  changes: UserChanges,
  now = new Date(),
): Promise<UserRow | null> {
  const { revokeTokens, ...set } = changes;
  return within(w, async (tx) => {
    await tx.execute(
      rowUpdate(users, { ...set, ...(revokeTokens ? { tokenVersion: new Increment(1) } : {}), updatedAt: now }, { id }),
    );
    return tx.read((db) => getUserById(db, id));
  });
}

export interface ListUsersQuery {
  limit: number;
  offset: number;
  /** The previous page's `next_cursor` (keyset paging, docs/data.md). */
  cursor?: string;
  /** A field, `-` first for descending; default `-created_at`. */
  sort?: `${'' | '-'}${UserSortField}`;
  /** Case-insensitive substring of the name or email. */
  q?: string;
  role?: Role;
  disabled?: boolean;
}

/**
 * One page of users along the sort's index, the next page's cursor and the total that match
 * (exact up to 10,000). `q` filters the rows the index walk meets: the users table is small
 * next to notes and jobs (docs/data.md).
 */
export async function listUsers(
  db: DbOrTx,
  query: ListUsersQuery,
): Promise<{ items: UserRow[]; nextCursor: string | null } & Total> {
  const filters: SQL[] = [];
  if (query.q) {
    // The name's `_ci` collation makes LIKE case-insensitive; the user's own % and _ are literal.
    const containing = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    // Emails are stored normalised and compared byte for byte: search in the same form.
    const match = or(like(users.name, containing(query.q)), like(users.email, containing(normalizeEmail(query.q))));
    if (match) filters.push(match);
  }
  if (query.role) filters.push(eq(users.role, query.role));
  if (query.disabled !== undefined) filters.push(eq(users.disabled, query.disabled));

  const sort = query.sort ?? '-created_at';
  const order = userOrder(sort.replace(/^-/, '') as UserSortField, { role: !!query.role }, (r: UserRow) => r);
  const request = { ...query, sort };
  const page = planPage(order, request);
  const [rows, total] = await Promise.all([
    db
      .select()
      .from(users, order.index ? { forceIndex: order.index } : undefined)
      .where(and(...filters, page.after))
      .orderBy(...page.orderBy)
      .limit(page.fetch)
      .offset(page.offset),
    cappedCount(db, users, and(...filters), userOrder('created_at', { role: !!query.role }, (r: UserRow) => r).index),
  ]);
  const { rows: items, nextCursor } = finishPage(order, request, rows);
  return { items, nextCursor, ...total };
}

export { isDuplicateKey } from '../../platform/db/retry.ts';
