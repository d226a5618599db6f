import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { seedJob, seedNote, seedUser } from '../../api/test/admin-fixtures.ts';
import { createAuthProvider, isExpired, NOT_ADMIN_MESSAGE } from '../src/providers/auth-provider.ts';
import { createDataProvider, listQuery, PageCursors, toListResult } from '../src/providers/data-provider.ts';
import { ApiError, createApiClient, memoryTokens } from '../src/providers/http.ts';
import { type ConsoleServer, PASSWORD, startConsoleServer } from './support.ts';

/**
 * The console's providers against the real API over HTTP: what react-admin calls is what the
 * API answers. (The browser tests drive the same code through the UI.)
 */
let s: ConsoleServer;
const tokens = memoryTokens();
let api: ReturnType<typeof createApiClient>;
let auth: ReturnType<typeof createAuthProvider>;
let data: ReturnType<typeof createDataProvider>;

before(async () => {
  s = await startConsoleServer('consoleprov');
  api = createApiClient({ baseUrl: s.baseUrl, tokens });
  auth = createAuthProvider(api, tokens);
  data = createDataProvider(api);
});
after(() => s?.close());

describe('authProvider', () => {
  test('refuses a non-admin with a clear message and keeps no token', async () => {
    await assert.rejects(auth.login({ email: s.user.email, password: PASSWORD }), { message: NOT_ADMIN_MESSAGE });
    assert.equal(tokens.get(), null);
    await assert.rejects(auth.checkAuth({}));
  });

  test('wrong credentials say so', async () => {
    await assert.rejects(auth.login({ email: s.admin.email, password: 'wrong password' }), {
      message: 'Wrong email or password.',
    });
  });

  test('an admin logs in, is identified, and logs out', async () => {
    await auth.login({ email: s.admin.email, password: PASSWORD });
    assert.ok(tokens.get());
    await auth.checkAuth({});
    const me = await auth.getIdentity?.();
    assert.equal(me?.id, s.admin.id);
    assert.equal(me?.fullName, 'Ops');
    await auth.logout({});
    await assert.rejects(auth.checkAuth({}));
    await auth.login({ username: s.admin.email, password: PASSWORD }); // react-admin's default form field
    assert.ok(tokens.get());
  });

  test('401 and 403 from the API end the session; other errors do not', async () => {
    const keep = tokens.get() as string;
    await auth.checkError(new ApiError('boom', 500, null));
    assert.equal(tokens.get(), keep);
    await assert.rejects(auth.checkError(new ApiError('no', 403, null)));
    assert.equal(tokens.get(), null);
    tokens.set(keep);
    await assert.rejects(auth.checkError(new ApiError('no', 401, null)));
    tokens.set(keep);
  });

  test('an expired or unreadable token counts as logged out', () => {
    const payload = (exp: number) => btoa(JSON.stringify({ exp })).replace(/=+$/, '');
    assert.equal(isExpired(`x.${payload(Date.now() / 1000 - 10)}.y`), true);
    assert.equal(isExpired(`x.${payload(Date.now() / 1000 + 600)}.y`), false);
    assert.equal(isExpired('garbage'), true);
  });
});

describe('dataProvider', () => {
  let noteId: string;
  let jobId: string;
  before(async () => {
    const db = s.t.deps.database;
    noteId = await seedNote(db, s.user.id, { title: 'Provider note', status: 'processed' });
    await seedNote(db, s.user.id, { title: 'Another', status: 'queued' });
    jobId = await seedJob(db, { id: noteId, userId: s.user.id }, { status: 'processed' });
  });

  test('maps react-admin list parameters onto the API query', () => {
    assert.deepEqual(
      listQuery({
        pagination: { page: 3, perPage: 20 },
        sort: { field: 'title', order: 'ASC' },
        filter: { status: 'dead', q: '' },
      }),
      { limit: 20, offset: 40, sort: 'title', status: 'dead' },
    );
    assert.deepEqual(listQuery({ pagination: { page: 1, perPage: 500 }, sort: { field: 'id', order: 'DESC' } }), {
      limit: 100,
      offset: 0,
    });
  });

  test('getList, getOne, getMany and getManyReference read the admin API', async () => {
    const list = await data.getList('notes', {
      pagination: { page: 1, perPage: 10 },
      sort: { field: 'created_at', order: 'DESC' },
      filter: { status: 'processed' },
    });
    assert.equal(list.total, 1);
    assert.equal(list.data[0]?.id, noteId);
    const one = await data.getOne('notes', { id: noteId });
    assert.equal(one.data.title, 'Provider note');
    assert.equal(one.data.jobs[0].id, jobId);
    const many = await data.getMany('users', { ids: [s.admin.id, s.user.id] });
    assert.deepEqual(
      many.data.map((u) => u.email),
      [s.admin.email, s.user.email],
    );
    const ref = await data.getManyReference('jobs', {
      target: 'note_id',
      id: noteId,
      pagination: { page: 1, perPage: 25 },
      sort: { field: 'created_at', order: 'DESC' },
      filter: {},
    });
    assert.deepEqual(
      ref.data.map((j) => j.id),
      [jobId],
    );
  });

  test('maps a cursor onto the query instead of an offset', () => {
    assert.deepEqual(
      listQuery({ pagination: { page: 7, perPage: 20 }, sort: { field: 'title', order: 'DESC' } }, 'c1'),
      {
        limit: 20,
        cursor: 'c1',
        sort: '-title',
      },
    );
    const cursors = new PageCursors(2);
    const key = (sort: string) =>
      PageCursors.key('notes', { pagination: { page: 3, perPage: 5 }, sort: { field: sort, order: 'ASC' } });
    assert.equal(
      key('title'),
      PageCursors.key('notes', { pagination: { page: 9, perPage: 5 }, sort: { field: 'title', order: 'ASC' } }),
    );
    cursors.set(key('a'), 2, 'x');
    cursors.set(key('b'), 2, 'y');
    cursors.set(key('c'), 2, 'z');
    assert.deepEqual(
      [cursors.get(key('a'), 2), cursors.get(key('b'), 2), cursors.get(key('c'), 2)],
      [undefined, 'y', 'z'],
    );
  });

  test('an exact total gives numbered pages; a capped one gives partial pagination', () => {
    assert.deepEqual(toListResult({ data: [], total: 3, total_exact: true, next_cursor: null }, 1), {
      data: [],
      total: 3,
    });
    assert.deepEqual(toListResult({ data: [], total: 10_000, total_exact: false, next_cursor: 'n' }, 2), {
      data: [],
      pageInfo: { hasNextPage: true, hasPreviousPage: true },
      meta: { totalAtLeast: 10_000 },
    });
  });

  test('API errors surface as ApiError with the status and the problem detail', async () => {
    await assert.rejects(data.getOne('notes', { id: 'missing' }), (err: ApiError) => {
      assert.equal(err.status, 404);
      assert.match(err.message, /missing/);
      return true;
    });
  });

  test('update sends only what changed, and only for users', async () => {
    const target = await seedUser(s.t.app, s.t.deps.database, { email: 'promote-me@example.test' });
    const before = (await data.getOne('users', { id: target.id })).data;
    const res = await data.update('users', {
      id: target.id,
      data: { ...before, role: 'admin', name: 'ignored' },
      previousData: before,
    });
    assert.equal(res.data.role, 'admin');
    assert.equal(res.data.name, before.name);
    const unchanged = await data.update('users', { id: target.id, data: res.data, previousData: res.data });
    assert.equal(unchanged.data.role, 'admin');
    await assert.rejects(data.update('notes', { id: noteId, data: {}, previousData: {} as never }));
    await assert.rejects(data.create('notes', { data: {} }));
  });

  test('stats, queues and a promote dry run through the custom methods', async () => {
    const stats = await data.getStats();
    assert.equal(stats.notes.total, 2);
    assert.equal(stats.throughput.minutes.length, 15);
    const queues = await data.getQueues();
    assert.ok(queues.queues.some((q) => q.name === 'notes.dlq'));
    const dry = await data.promoteDlq({ dry_run: true });
    assert.equal(dry.dry_run, true);
    assert.equal(dry.promoted, 0);
    const discarded = await data.discardDlq(['no-such-job']);
    assert.deepEqual(discarded, { discarded: [], failed: ['no-such-job'] });
  });
});

// Last: it adds notes, which the stats test above counts.
describe('dataProvider paging', () => {
  test('the next page is read with the cursor of the page before, and matches offset paging', async () => {
    const db = s.t.deps.database;
    for (let i = 0; i < 5; i++) await seedNote(db, s.user.id, { title: `Paged ${i}` });
    const params = (page: number) => ({
      pagination: { page, perPage: 2 },
      sort: { field: 'title', order: 'ASC' as const },
      filter: { q: 'paged' },
    });
    const queries: Record<string, unknown>[] = [];
    const recording = ((p: string, o?: { query?: Record<string, unknown> }) => {
      queries.push(o?.query ?? {});
      return api(p, o as never);
    }) as typeof api;
    const paging = createDataProvider(recording);
    const seen: string[] = [];
    for (let page = 1; page <= 3; page++)
      seen.push(...(await paging.getList('notes', params(page))).data.map((n) => n.title));
    assert.deepEqual(seen, ['Paged 0', 'Paged 1', 'Paged 2', 'Paged 3', 'Paged 4']);
    assert.deepEqual(
      queries.map((q) => [q.offset, typeof q.cursor]),
      [
        [0, 'undefined'],
        [undefined, 'string'],
        [undefined, 'string'],
      ],
    );
    // A fresh provider (no cursors yet) reads page 2 by offset: the same rows.
    const fresh = createDataProvider(api);
    const byOffset = await fresh.getList('notes', params(2));
    assert.deepEqual(
      byOffset.data.map((n) => n.title),
      ['Paged 2', 'Paged 3'],
    );
    await assert.rejects(
      fresh.getList('notes', { ...params(502), pagination: { page: 502, perPage: 2 } }),
      /next-page/,
    );
  });
});
