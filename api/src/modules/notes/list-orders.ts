import { JOB_KINDS, PRIORITIES } from '@notes/contracts';
import type { JobSortField } from '@notes/contracts/admin-api';
import type { UserSortField } from '@notes/contracts/auth-api';
import type { MySqlColumn } from 'drizzle-orm/mysql-core';
import type { ListOrder, SortKey } from '../../platform/db/keyset.ts';
import {
  auditLog,
  JOB_STATUSES,
  type jobErrors,
  jobs,
  NOTE_STATUSES,
  notes,
  ROLES,
  users,
} from '../../platform/db/schema.ts';
import type { SortField } from './schemas.ts';

/**
 * Every list's orders and the index that holds each (docs/data.md, "Indexes"). A list reads its
 * page by walking that index in order and stops after one page, so no list sorts or counts the
 * whole table. ENUM sorts are tie-broken by created_at, so the same index serves "sort by status"
 * and "status = X, newest first". The EXPLAIN test (api/test/list-plans.test.ts) checks each one.
 */

const key = <Row, T>(column: MySqlColumn, pick: (row: Row) => T, prop: keyof T, enumValues?: readonly string[]) =>
  ({ column, get: (row: Row) => pick(row)[prop], enumValues }) satisfies SortKey<Row>;

const order = <Row>(index: string | undefined, ...keys: SortKey<Row>[]): ListOrder<Row> =>
  index ? { keys, index } : { keys };

/** The equality filters each index can seek on (its leading columns). */
const FILTER_COLUMNS: Record<string, readonly string[]> = {
  notes_user_created_idx: ['user'],
  notes_user_updated_idx: ['user'],
  notes_user_title_idx: ['user'],
  notes_user_status_idx: ['user', 'status'],
  notes_user_priority_idx: ['user', 'priority'],
  notes_status_idx: ['status'],
  notes_priority_idx: ['priority'],
  jobs_status_idx: ['status'],
  jobs_status_finished_idx: ['status'],
  jobs_status_updated_idx: ['status'],
  jobs_priority_idx: ['priority'],
  jobs_kind_idx: ['kind'],
  jobs_note_idx: ['note'],
  job_errors_status_idx: ['status'],
  job_errors_status_finished_idx: ['status'],
  job_errors_status_updated_idx: ['status'],
  job_errors_priority_idx: ['priority'],
  job_errors_kind_idx: ['kind'],
  job_errors_note_idx: ['note'],
  users_role_idx: ['role'],
  audit_action_idx: ['action'],
  audit_actor_idx: ['actor'],
  audit_target_idx: ['target'],
};

/**
 * Lists with few matches are sorted, not walked (docs/data.md, "Indexes"). When the order's
 * index cannot seek on every filter, walking it in order reads rows until a page of matches is
 * found: quick when matches are common, a long walk when they are rare. The capped count tells
 * which: at most SMALL_SORT matches are read through `filterIndex` (the index that seeks on the
 * filters) and sorted; more are common enough to walk the order's index.
 */
export const SMALL_SORT = 5_000;

/** Can `index` seek on every filter that is on (so walking it reads only matching entries)? */
export function seeksOn(index: string | undefined, filters: object): boolean {
  const seeks = index ? (FILTER_COLUMNS[index] ?? []) : [];
  return !!index && Object.entries(filters).every(([name, on]) => !on || seeks.includes(name));
}

export function accessIndex(
  order: ListOrder<unknown>,
  filters: Record<string, boolean | undefined>,
  filterIndex: string | undefined,
  total: { total: number; total_exact: boolean } | null,
): string | undefined {
  if (!order.index || !filterIndex || filterIndex === order.index) return order.index;
  const seeks = FILTER_COLUMNS[order.index] ?? [];
  const residual = Object.entries(filters).some(([name, on]) => on && !seeks.includes(name));
  const few = total?.total_exact === true && total.total <= SMALL_SORT;
  return residual && few ? filterIndex : order.index;
}

// ---------------------------------------------------------------- notes

interface NoteKeys {
  id: unknown;
  createdAt: unknown;
  updatedAt: unknown;
  title: unknown;
  priority: unknown;
  status: unknown;
}

export interface NoteScope {
  /** One owner's notes (the user API, or the console filtered by owner). */
  user: boolean;
  status?: boolean;
  priority?: boolean;
  /** A FULLTEXT match: the search index finds the rows, which are then sorted. */
  search?: boolean;
}

export function noteOrder<Row>(field: SortField, scope: NoteScope, pick: (row: Row) => NoteKeys): ListOrder<Row> {
  const id = key(notes.id, pick, 'id');
  const created = key(notes.createdAt, pick, 'createdAt');
  const u = scope.user ? 'notes_user_' : 'notes_';
  const index = (name: string) => (scope.search ? undefined : `${u}${name}_idx`);
  switch (field) {
    case 'created_at':
      return order(index(scope.status ? 'status' : scope.priority ? 'priority' : 'created'), created, id);
    case 'updated_at':
      return order(index('updated'), key(notes.updatedAt, pick, 'updatedAt'), id);
    case 'title':
      return order(index('title'), key(notes.title, pick, 'title'), id);
    case 'priority':
      return order(index('priority'), key(notes.priority, pick, 'priority', PRIORITIES), created, id);
    case 'status':
      return order(index('status'), key(notes.status, pick, 'status', NOTE_STATUSES), created, id);
  }
}

// ---------------------------------------------------------------- jobs (the console's jobs and DLQ)

interface JobKeys {
  id: unknown;
  createdAt: unknown;
  updatedAt: unknown;
  finishedAt: unknown;
  priority: unknown;
  status: unknown;
  kind: unknown;
}

export interface JobScope {
  status?: boolean;
  kind?: boolean;
  priority?: boolean;
  /** One note's jobs: a handful of rows, sorted as they are found. */
  note?: boolean;
  search?: boolean;
}

/**
 * A job list's order, over `jobs` or over `job_errors` (the jobs that carry error text, which a
 * search reads: docs/data.md, "Search"); both have the same columns and order indexes.
 */
export function jobOrder<Row>(
  field: JobSortField,
  scope: JobScope,
  pick: (row: Row) => JobKeys,
  table: typeof jobs | typeof jobErrors = jobs,
): ListOrder<Row> {
  const id = key(table.id, pick, 'id');
  const created = key(table.createdAt, pick, 'createdAt');
  const free = scope.search || scope.note;
  const prefix = table === jobs ? 'jobs' : 'job_errors';
  const index = (name: string) => (free ? undefined : `${prefix}_${name}_idx`);
  switch (field) {
    case 'created_at': {
      if (scope.note && !scope.search) return order(`${prefix}_note_idx`, created, id);
      const by = scope.status ? 'status' : scope.kind ? 'kind' : scope.priority ? 'priority' : 'created';
      return order(index(by), created, id);
    }
    case 'updated_at':
      return order(index(scope.status ? 'status_updated' : 'updated'), key(table.updatedAt, pick, 'updatedAt'), id);
    case 'finished_at': {
      const finished = key(table.finishedAt, pick, 'finishedAt');
      // One status: (status, finished_at) holds them by finished_at, then id.
      if (scope.status) return order(index('status_finished'), finished, id);
      // (finished_at, status) also covers the dashboard's throughput; status breaks ties here.
      return order(index('finished'), finished, key(table.status, pick, 'status', JOB_STATUSES), id);
    }
    case 'priority':
      return order(index('priority'), key(table.priority, pick, 'priority', PRIORITIES), created, id);
    case 'status':
      return order(index('status'), key(table.status, pick, 'status', JOB_STATUSES), created, id);
    case 'kind':
      return order(index('kind'), key(table.kind, pick, 'kind', JOB_KINDS), created, id);
  }
}

// ---------------------------------------------------------------- users

interface UserKeys {
  id: unknown;
  createdAt: unknown;
  email: unknown;
  name: unknown;
  role: unknown;
}

export function userOrder<Row>(field: UserSortField, scope: { role?: boolean }, pick: (row: Row) => UserKeys) {
  const id = key(users.id, pick, 'id');
  const created = key(users.createdAt, pick, 'createdAt');
  switch (field) {
    case 'created_at':
      return order(scope.role ? 'users_role_idx' : 'users_created_idx', created, id);
    case 'email':
      // Unique: no tie-break (MariaDB does not read a UNIQUE index as ordered by the id too).
      return order('users_email_unique', key(users.email, pick, 'email'));
    case 'name':
      return order('users_name_idx', key(users.name, pick, 'name'), id);
    case 'role':
      return order('users_role_idx', key(users.role, pick, 'role', ROLES), created, id);
  }
}

// ---------------------------------------------------------------- audit log

type AuditSortField = 'created_at' | 'action';

interface AuditKeys {
  id: unknown;
  createdAt: unknown;
  action: unknown;
}

export function auditOrder<Row>(
  field: AuditSortField,
  scope: { action?: boolean; actor?: boolean; target?: boolean },
  pick: (row: Row) => AuditKeys,
): ListOrder<Row> {
  const id = key(auditLog.id, pick, 'id');
  const created = key(auditLog.createdAt, pick, 'createdAt');
  if (field === 'action') return order('audit_action_idx', key(auditLog.action, pick, 'action'), created, id);
  const by = scope.action ? 'action' : scope.actor ? 'actor' : scope.target ? 'target' : 'created';
  return order(`audit_${by}_idx`, created, id);
}
