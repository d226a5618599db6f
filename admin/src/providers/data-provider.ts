import {
  MAX_PAGE,
  type Page,
  type PromoteBody,
  type PromoteResult,
  type QueuesResponse,
  type StatsResponse,
} from '@notes/contracts/wire';
import type { DataProvider, GetListParams, GetManyReferenceParams, Identifier, RaRecord } from 'react-admin';
import type { ApiClient, QueryValue } from './http.ts';
import { createOperations, type Operations } from './operations.ts';

/**
 * What the admin API answers for a list (the same shape as the user API): `total` is exact when
 * `total_exact`, else a lower bound ("more than 10,000"); `next_cursor` pages on.
 */
export type ListResponse<T> = Page<T>;

/** The admin API's shapes, from the contracts the API validates with (no hand-kept twins). */
export type PromoteRequest = PromoteBody;
export type { PromoteResult };
export type Stats = StatsResponse;
export type Queues = QueuesResponse;

/** The admin API's extra operations, beside react-admin's CRUD methods. */
export interface AdminDataProvider extends DataProvider, Operations {
  getStats(): Promise<Stats>;
  getQueues(): Promise<Queues>;
  promoteDlq(request: PromoteRequest): Promise<PromoteResult>;
  discardDlq(ids: Identifier[], reason?: string): Promise<{ discarded: Identifier[]; failed: Identifier[] }>;
}

/** Resources whose API path differs from their name would go here; today they all match. */
const path = (resource: string) => `/api/admin/${encodeURIComponent(resource)}`;
const one = (resource: string, id: Identifier) => `${path(resource)}/${encodeURIComponent(String(id))}`;

/** The API's page size cap: react-admin's "show 250 per page" would be a 400. */
export { MAX_PAGE };

/** The API's deepest `offset`; deeper pages are reached with the cursor of the page before. */
export const MAX_OFFSET = 1_000;

/**
 * react-admin's list parameters → our query string: `limit` and either the `cursor` that leads
 * to this page or `offset`, `sort=[-]field`, each filter as its own parameter. Sorting by `id`
 * (react-admin's default) uses the API's default.
 */
export function listQuery(params: Partial<GetListParams>, cursor?: string): Record<string, QueryValue> {
  const page = params.pagination?.page ?? 1;
  const perPage = Math.min(params.pagination?.perPage ?? 25, MAX_PAGE);
  const query: Record<string, QueryValue> = cursor
    ? { limit: perPage, cursor }
    : { limit: perPage, offset: (page - 1) * perPage };
  const field = params.sort?.field;
  if (field && field !== 'id') query.sort = `${params.sort?.order === 'DESC' ? '-' : ''}${field}`;
  for (const [k, v] of Object.entries(params.filter ?? {})) {
    if (v === undefined || v === null || v === '') continue;
    query[k] = typeof v === 'object' ? JSON.stringify(v) : (v as QueryValue);
  }
  return query;
}

/**
 * The cursors that lead to each page of each list the operator has opened (same resource,
 * sort, filters and page size), so "next page" seeks instead of skipping rows, and pages past
 * MAX_OFFSET are reachable. A few lists are remembered; the oldest is forgotten first.
 */
export class PageCursors {
  private readonly lists = new Map<string, Map<number, string>>();
  constructor(private readonly maxLists = 20) {}

  static key(resource: string, params: Partial<GetListParams>): string {
    const { page: _page, ...size } = params.pagination ?? { page: 1, perPage: 25 };
    return JSON.stringify([resource, params.sort ?? null, params.filter ?? {}, size]);
  }

  get(key: string, page: number): string | undefined {
    return this.lists.get(key)?.get(page);
  }

  set(key: string, page: number, cursor: string): void {
    let pages = this.lists.get(key);
    if (!pages) {
      pages = new Map();
      this.lists.set(key, pages);
      if (this.lists.size > this.maxLists) this.lists.delete(this.lists.keys().next().value as string);
    }
    pages.set(page, cursor);
  }
}

/**
 * An exact total gives react-admin's numbered pagination; a capped one ("more than 10,000")
 * gives partial pagination (`pageInfo`): previous/next, and "of more than N" on screen.
 */
export function toListResult<R extends RaRecord>(res: ListResponse<R>, page: number) {
  if (res.total_exact !== false) return { data: res.data, total: res.total };
  return {
    data: res.data,
    pageInfo: { hasNextPage: Boolean(res.next_cursor), hasPreviousPage: page > 1 },
    meta: { totalAtLeast: res.total },
  };
}

/**
 * A dataProvider over the admin API's own shape ({data,total}, problem+json errors), rather
 * than reshaping the API for ra-data-simple-rest. Only users can be updated, only DLQ entries
 * deleted (a discard); the rest is read-only, by design of the admin API.
 */
export function createDataProvider(api: ApiClient): AdminDataProvider {
  const unsupported = (what: string, resource: string) =>
    Promise.reject(new Error(`${what} is not supported on ${resource}`));

  const cursors = new PageCursors();
  async function readPage<R extends RaRecord>(resource: string, params: Partial<GetListParams>) {
    const key = PageCursors.key(resource, params);
    const page = params.pagination?.page ?? 1;
    const perPage = Math.min(params.pagination?.perPage ?? 25, MAX_PAGE);
    const cursor = page > 1 ? cursors.get(key, page) : undefined;
    if (!cursor && (page - 1) * perPage > MAX_OFFSET) {
      throw new Error(
        `Pages past ${MAX_OFFSET.toLocaleString('en')} rows open one at a time: use the next-page button.`,
      );
    }
    const res = await api<ListResponse<R>>(path(resource), { query: listQuery(params, cursor) });
    if (res.next_cursor) cursors.set(key, page + 1, res.next_cursor);
    return toListResult(res, page);
  }

  const operations = createOperations(api);
  const provider: AdminDataProvider = {
    ...operations,

    async getList<R extends RaRecord>(resource: string, params: GetListParams) {
      // The failure inbox and the kinds' controls are whole lists keyed by their own ids.
      if (resource === 'failures') {
        const { data } = await operations.failureGroups(params.filter?.kind || undefined);
        return { data: data.map((g) => ({ ...g, id: g.group_id })) as unknown as R[], total: data.length };
      }
      if (resource === 'control') {
        const { kinds } = await operations.controls();
        return { data: kinds.map((k) => ({ ...k, id: k.kind })) as unknown as R[], total: kinds.length };
      }
      return readPage<R>(resource, params);
    },

    async getOne<R extends RaRecord>(resource: string, params: { id: Identifier }) {
      return { data: await api<R>(one(resource, params.id)) };
    },

    async getMany<R extends RaRecord>(resource: string, params: { ids: Identifier[] }) {
      const data = await Promise.all(params.ids.map((id) => api<R>(one(resource, id))));
      return { data };
    },

    async getManyReference<R extends RaRecord>(resource: string, params: GetManyReferenceParams) {
      const filter = { ...params.filter, [params.target]: params.id };
      return readPage<R>(resource, { ...params, filter });
    },

    async update(resource, params) {
      if (resource !== 'users') return unsupported('update', resource);
      // Send only what changed, and only what the API lets an admin change.
      const changes: Record<string, unknown> = {};
      for (const key of ['role', 'disabled'] as const) {
        if (params.data[key] !== undefined && params.data[key] !== params.previousData?.[key]) {
          changes[key] = params.data[key];
        }
      }
      if (Object.keys(changes).length === 0) return { data: params.previousData as never };
      return { data: await api(one(resource, params.id), { method: 'PATCH', body: changes }) };
    },

    async updateMany(resource) {
      return unsupported('updateMany', resource);
    },

    async create(resource) {
      return unsupported('create', resource);
    },

    async delete(resource, params) {
      if (resource !== 'dlq') return unsupported('delete', resource);
      const reason = (params.meta as { reason?: string } | undefined)?.reason;
      await api(one(resource, params.id), { method: 'DELETE', body: reason ? { reason } : undefined });
      return { data: params.previousData as never };
    },

    async deleteMany(resource, params) {
      if (resource !== 'dlq') return unsupported('deleteMany', resource);
      const reason = (params.meta as { reason?: string } | undefined)?.reason;
      const { discarded, failed } = await provider.discardDlq(params.ids, reason);
      if (failed.length) throw new Error(`Discarded ${discarded.length}; ${failed.length} could not be discarded.`);
      return { data: discarded };
    },

    getStats: () => api<Stats>('/api/admin/stats'),
    getQueues: () => api<Queues>('/api/admin/queues'),
    promoteDlq: (request) => api<PromoteResult>('/api/admin/dlq/promote', { method: 'POST', body: request }),

    async discardDlq(ids, reason) {
      const discarded: Identifier[] = [];
      const failed: Identifier[] = [];
      // One at a time: each discard removes a broker message; the list is an operator's selection.
      for (const id of ids) {
        try {
          await api(one('dlq', id), { method: 'DELETE', body: reason ? { reason } : undefined });
          discarded.push(id);
        } catch {
          failed.push(id);
        }
      }
      return { discarded, failed };
    },
  };
  return provider;
}
