import { getTableColumns, getTableName } from 'drizzle-orm';
import type { MySqlTable } from 'drizzle-orm/mysql-core';

/**
 * The statements of the one writer (sql-writer.ts), built from the drizzle schema's names so the
 * schema stays the one definition of the tables: inserts, upserts, updates and deletes. Values
 * are always `?` placeholders escaped by mysql2, never concatenated into the SQL.
 */

/** One statement with `?` placeholders. */
export interface Statement {
  sql: string;
  values: readonly unknown[];
}

/** One row of one table, by column name. Rows of a table with the same columns merge into one INSERT. */
export interface RowInsert {
  table: string;
  columns: readonly string[];
  values: readonly unknown[];
}

const columnNames = new WeakMap<MySqlTable, { table: string; columns: Map<string, string> }>();

/** A drizzle table's SQL name and its columns' names by property. */
export function namesOf(table: MySqlTable): { table: string; columns: ReadonlyMap<string, string> } {
  let names = columnNames.get(table);
  if (!names) {
    const columns = new Map(Object.entries(getTableColumns(table)).map(([key, column]) => [key, column.name]));
    names = { table: getTableName(table), columns };
    columnNames.set(table, names);
  }
  return names;
}

/**
 * A row of a drizzle table as an insert: property names become the schema's column names, so
 * the drizzle schema stays the one definition of the tables. Undefined properties are left to
 * their column defaults.
 */
export function rowInsert<T extends MySqlTable>(table: T, row: T['$inferInsert']): RowInsert {
  const names = namesOf(table);
  const columns: string[] = [];
  const values: unknown[] = [];
  for (const [key, value] of Object.entries(row as Record<string, unknown>)) {
    if (value === undefined) continue;
    const column = names.columns.get(key);
    if (!column) throw new Error(`${names.table} has no column for ${key}`);
    columns.push(column);
    values.push(sqlValue(value));
  }
  return { table: names.table, columns, values };
}

/** A value as a placeholder takes it: JSON columns serialised (mysql2 would expand an object into `k = v`). */
export function sqlValue(value: unknown): unknown {
  return value !== null && typeof value === 'object' && !(value instanceof Date) && !Buffer.isBuffer(value)
    ? JSON.stringify(value)
    : value;
}

const placeholders = new Map<number, string>();
function rowPlaceholders(n: number): string {
  let p = placeholders.get(n);
  if (!p) {
    p = `(${new Array(n).fill('?').join(',')})`;
    placeholders.set(n, p);
  }
  return p;
}

/**
 * One multi-row INSERT per table and column list, in the order each first appears (so a write's
 * fence row, which comes first, is inserted before the rows it guards).
 */
export function insertStatements(inserts: readonly RowInsert[]): Statement[] {
  const groups = new Map<string, { table: string; columns: readonly string[]; rows: number; values: unknown[] }>();
  for (const ins of inserts) {
    const key = `${ins.table}\u0000${ins.columns.join(',')}`;
    let group = groups.get(key);
    if (!group) {
      group = { table: ins.table, columns: ins.columns, rows: 0, values: [] };
      groups.set(key, group);
    }
    group.rows++;
    for (const v of ins.values) group.values.push(v);
  }
  return [...groups.values()].map((g) => {
    const row = rowPlaceholders(g.columns.length);
    return {
      sql: `INSERT INTO \`${g.table}\` (${g.columns.map((c) => `\`${c}\``).join(',')}) VALUES ${new Array(g.rows).fill(row).join(',')}`,
      values: g.values,
    };
  });
}

/** A comparison other than equality in a `where` (equality, `IN` and `IS NULL` need none). */
export class Compare {
  constructor(
    readonly op: '<' | '<=' | '>' | '>=' | 'IS NOT NULL',
    readonly value?: unknown,
  ) {}
}
export const below = (value: unknown) => new Compare('<', value);
export const atMost = (value: unknown) => new Compare('<=', value);
export const notNull = new Compare('IS NOT NULL');

/** `column = column + n` in a `set`. */
export class Increment {
  constructor(readonly by: number) {}
}

type Props<T extends MySqlTable> = keyof T['$inferSelect'] & string;
/**
 * Conditions ANDed together, by property: a value is `=`, an array `IN (…)`, null `IS NULL`,
 * a Compare its comparison. An empty array matches nothing.
 */
export type Where<T extends MySqlTable> = { [K in Props<T>]?: T['$inferSelect'][K] | readonly unknown[] | Compare };
export type Changes<T extends MySqlTable> = { [K in Props<T>]?: T['$inferSelect'][K] | Increment };

function column(names: ReturnType<typeof namesOf>, property: string): string {
  const name = names.columns.get(property);
  if (!name) throw new Error(`${names.table} has no column for ${property}`);
  return `\`${name}\``;
}

function whereClause(names: ReturnType<typeof namesOf>, where: Record<string, unknown>, values: unknown[]): string {
  const parts: string[] = [];
  for (const [property, value] of Object.entries(where)) {
    if (value === undefined) continue;
    const col = column(names, property);
    if (value === null) parts.push(`${col} IS NULL`);
    else if (Array.isArray(value)) {
      if (value.length === 0) parts.push('FALSE');
      else {
        parts.push(`${col} IN (?)`);
        values.push(value.map(sqlValue));
      }
    } else if (value instanceof Compare) {
      if (value.op === 'IS NOT NULL') parts.push(`${col} IS NOT NULL`);
      else {
        parts.push(`${col} ${value.op} ?`);
        values.push(sqlValue(value.value));
      }
    } else {
      parts.push(`${col} = ?`);
      values.push(sqlValue(value));
    }
  }
  if (parts.length === 0) throw new Error(`a write to ${names.table} without a where`);
  return parts.join(' AND ');
}

/** `UPDATE table SET … WHERE …`; undefined properties in `set` are left alone. */
export function rowUpdate<T extends MySqlTable>(table: T, set: Changes<T>, where: Where<T>): Statement {
  const names = namesOf(table);
  const values: unknown[] = [];
  const sets: string[] = [];
  for (const [property, value] of Object.entries(set as Record<string, unknown>)) {
    if (value === undefined) continue;
    const col = column(names, property);
    if (value instanceof Increment) {
      sets.push(`${col} = ${col} + ?`);
      values.push(value.by);
    } else {
      sets.push(`${col} = ?`);
      values.push(sqlValue(value));
    }
  }
  if (sets.length === 0) throw new Error(`an update of ${names.table} that sets nothing`);
  const condition = whereClause(names, where as Record<string, unknown>, values);
  return { sql: `UPDATE \`${names.table}\` SET ${sets.join(', ')} WHERE ${condition}`, values };
}

/** `DELETE FROM table WHERE … [LIMIT n]`. */
export function rowDelete<T extends MySqlTable>(table: T, where: Where<T>, opts: { limit?: number } = {}): Statement {
  const names = namesOf(table);
  const values: unknown[] = [];
  const condition = whereClause(names, where as Record<string, unknown>, values);
  const limit = opts.limit === undefined ? '' : ' LIMIT ?';
  if (opts.limit !== undefined) values.push(opts.limit);
  return { sql: `DELETE FROM \`${names.table}\` WHERE ${condition}${limit}`, values };
}

/**
 * Rows inserted, or on a duplicate key the existing row takes the new row's values of `update`
 * (`INSERT … ON DUPLICATE KEY UPDATE c = VALUES(c)`). Every row sets the same columns.
 */
export function rowUpsert<T extends MySqlTable>(
  table: T,
  rows: readonly T['$inferInsert'][],
  update: readonly Props<T>[],
): Statement {
  const inserts = rows.map((row) => rowInsert(table, row));
  const [statement, ...rest] = insertStatements(inserts);
  if (!statement || rest.length > 0) throw new Error(`an upsert of ${getTableName(table)} needs rows of one shape`);
  const names = namesOf(table);
  const sets = update.map((p) => `${column(names, p)} = VALUES(${column(names, p)})`);
  return { sql: `${statement.sql} ON DUPLICATE KEY UPDATE ${sets.join(', ')}`, values: statement.values };
}
