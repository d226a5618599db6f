import { MAX_OFFSET } from '@notes/contracts';
import { and, asc, desc, eq, gt, inArray, isNotNull, isNull, lt, or, type SQL, sql } from 'drizzle-orm';
import type { MySqlColumn } from 'drizzle-orm/mysql-core';
import { BadRequestError } from '../errors/index.ts';

/**
 * Keyset pagination (docs/data.md, "Paging"). A list is ordered by a few keys, all in the sort's
 * direction, the last one unique (the id); a page is "the next `limit` rows after the last row of
 * the previous page", which an index answers by seeking, however deep the page. The cursor names
 * the sort it belongs to and the last row's keys; it is opaque to clients (base64url JSON) and
 * only ever bound as parameters, so a forged one can move a page but not change the query.
 */
export interface SortKey<Row> {
  column: MySqlColumn;
  get(row: Row): unknown;
  /**
   * An ENUM's values in declaration order. ENUMs sort by that order, but compare with a string
   * as strings, so "after" is spelt as the set of later values (still a range on the index).
   */
  enumValues?: readonly string[];
}

/** One list order: its keys and the index that holds the rows in that order. */
export interface ListOrder<Row> {
  keys: readonly SortKey<Row>[];
  /** Named in FORCE INDEX, so the plan does not depend on the table's statistics. */
  index?: string;
}

/**
 * Deep `offset` costs what it skips (every skipped row is read): past this, clients page with
 * the cursor, and a larger offset is a 400. A wire limit: contracts/src/paging.ts holds it.
 */
export { MAX_OFFSET };

export class CursorError extends BadRequestError {
  constructor(detail = 'cursor is not valid for this list; start again without it.') {
    super(detail, { cursor: 'invalid' });
  }
}

type Value = string | number | null;

export function encodeCursor(sort: string, values: readonly unknown[]): string {
  const v: Value[] = values.map((x) => (x instanceof Date ? x.toISOString() : (x as Value)));
  return Buffer.from(JSON.stringify({ s: sort, v })).toString('base64url');
}

/** The keys a cursor holds, revived to the columns' types; a cursor of another sort is a 400. */
export function decodeCursor(cursor: string, sort: string, keys: readonly SortKey<unknown>[]): Value[] | Date[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new CursorError();
  }
  const { s, v } = (parsed ?? {}) as { s?: unknown; v?: unknown };
  if (s !== sort) throw new CursorError('cursor belongs to another sort order; start again without it.');
  if (!Array.isArray(v) || v.length !== keys.length) throw new CursorError();
  return v.map((value, i) => {
    if (value !== null && typeof value !== 'string' && typeof value !== 'number') throw new CursorError();
    const column = keys[i]?.column as MySqlColumn;
    if (value !== null && column.getSQLType().startsWith('datetime')) {
      const date = new Date(String(value));
      if (Number.isNaN(date.getTime())) throw new CursorError();
      return date;
    }
    if (value === null && column.notNull) throw new CursorError();
    const enumValues = keys[i]?.enumValues;
    if (enumValues && !enumValues.includes(String(value))) throw new CursorError();
    return value;
  }) as Value[];
}

/**
 * Rows strictly after `values` in this order. NULLs come first ascending and last descending
 * (MariaDB's order), so "after" a NULL is only a later NULL, and every NULL is after a value
 * when descending.
 */
export function after(keys: readonly SortKey<unknown>[], values: readonly unknown[], descending: boolean): SQL {
  const same = (column: MySqlColumn, v: unknown) => (v === null ? isNull(column) : eq(column, v));
  const beyond = (column: MySqlColumn, v: unknown, enumValues?: readonly string[]): SQL | undefined => {
    if (enumValues) {
      const at = enumValues.indexOf(String(v));
      const later = descending ? enumValues.slice(0, Math.max(at, 0)) : enumValues.slice(at + 1);
      return later.length ? inArray(column, [...later]) : undefined;
    }
    if (descending)
      return v === null ? undefined : (or(lt(column, v), column.notNull ? undefined : isNull(column)) as SQL);
    return v === null ? isNotNull(column) : gt(column, v);
  };
  const branches: SQL[] = [];
  keys.forEach((key, i) => {
    const step = beyond(key.column, values[i], key.enumValues);
    if (!step) return;
    const prefix = keys.slice(0, i).map((k, j) => same(k.column, values[j]));
    branches.push(and(...prefix, step) as SQL);
  });
  return branches.length ? (or(...branches) as SQL) : sql`FALSE`;
}

export interface PageRequest {
  sort: string;
  limit: number;
  offset?: number;
  cursor?: string;
}

export interface PagePlan {
  orderBy: SQL[];
  /** The keyset condition, when a cursor was given. */
  after: SQL | undefined;
  offset: number;
  /** One more row than the page, to know whether there is a next one. */
  fetch: number;
}

export function planPage<Row>(order: ListOrder<Row>, page: PageRequest): PagePlan {
  const descending = page.sort.startsWith('-');
  const direction = descending ? desc : asc;
  const offset = page.offset ?? 0;
  if (page.cursor && offset > 0) throw new BadRequestError('Give either cursor or offset, not both.', { offset });
  if (offset > MAX_OFFSET) {
    throw new BadRequestError(`offset may be at most ${MAX_OFFSET}; page further with next_cursor.`, { offset });
  }
  const values = page.cursor ? decodeCursor(page.cursor, page.sort, order.keys as SortKey<unknown>[]) : null;
  // Descending, NULLs come last: past a NULL, every row has NULL there too. MariaDB does not
  // take `IS NULL` as a constant when it checks that the index gives the order (it sorts
  // instead), so the key leaves the ORDER BY once the cursor is in that tail.
  let leadingNulls = 0;
  while (descending && values && leadingNulls < order.keys.length - 1 && values[leadingNulls] === null) leadingNulls++;
  return {
    orderBy: order.keys.slice(leadingNulls).map((k) => direction(k.column)),
    after: values ? after(order.keys as SortKey<unknown>[], values, descending) : undefined,
    offset,
    fetch: page.limit + 1,
  };
}

/** The page itself and the cursor of the page after it (null on the last page). */
export function finishPage<Row>(
  order: ListOrder<Row>,
  page: PageRequest,
  rows: Row[],
): { rows: Row[]; nextCursor: string | null } {
  if (rows.length <= page.limit) return { rows, nextCursor: null };
  const shown = rows.slice(0, page.limit);
  const last = shown[shown.length - 1] as Row;
  return {
    rows: shown,
    nextCursor: encodeCursor(
      page.sort,
      order.keys.map((k) => k.get(last)),
    ),
  };
}
