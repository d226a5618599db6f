import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { getUserById } from '../src/modules/auth/users-repository.ts';
import { bearer, type SeededUser, seedJob, seedNote, seedUser } from './admin-fixtures.ts';
import { startTestApp, type TestApp } from './helpers.ts';

/** The admin API's reads, users and audit log, and who may call it (docs/api.md and docs/operations.md). */
let t: TestApp;
let admin: SeededUser;
let alice: SeededUser;
let bob: SeededUser;
const ids: Record<string, string> = {};

before(async () => {
  t = await startTestApp('adminapi');
  const db = t.deps.database;
  admin = await seedUser(t.app, db, { role: 'admin', email: 'boss@example.test' });
  alice = await seedUser(t.app, db, { email: 'alice@example.test', name: 'Alice' });
  bob = await seedUser(t.app, db, { email: 'bob@example.test', name: 'Bob' });
  const t0 = Date.now() - 60_000;
  ids.a1 = await seedNote(db, alice.id, {
    title: 'Alpha groceries',
    body: 'milk and #eggs',
    status: 'processed',
    priority: 'high',
    createdAt: new Date(t0),
    result: {
      word_count: 3,
      char_count: 14,
      reading_time_seconds: 1,
      tags: ['eggs'],
      links: [],
      checksum: 'e'.repeat(64),
    },
  });
  ids.a2 = await seedNote(db, alice.id, { title: 'Beta plan', status: 'dead', createdAt: new Date(t0 + 1000) });
  ids.b1 = await seedNote(db, bob.id, { title: 'Gamma', body: 'SECRET recipe', createdAt: new Date(t0 + 2000) });
  ids.j1 = await seedJob(db, { id: ids.a1, userId: alice.id }, { status: 'processed', createdAt: new Date(t0) });
  ids.j2 = await seedJob(
    db,
    { id: ids.a2, userId: alice.id },
    {
      status: 'dead',
      attempts: 3,
      lastError: 'upstream timeout',
      deadReason: 'upstream timeout',
      createdAt: new Date(t0 + 1000),
    },
  );
  ids.j3 = await seedJob(
    db,
    { id: ids.a1, userId: alice.id },
    {
      kind: 'webhook.deliver',
      status: 'failed',
      priority: 'max',
      lastError: 'HTTP 500',
      createdAt: new Date(t0 + 2000),
    },
  );
});
after(() => t?.close());

const get = (url: string, token = admin.token) => t.app.inject({ method: 'GET', url, headers: bearer(token) });

describe('who may call the admin API', () => {
  const routes: [string, string, unknown?][] = [
    ['GET', '/api/admin/notes'],
    ['GET', '/api/admin/notes/x'],
    ['GET', '/api/admin/jobs'],
    ['GET', '/api/admin/jobs/x'],
    ['GET', '/api/admin/dlq'],
    ['POST', '/api/admin/dlq/promote', { dry_run: true }],
    ['DELETE', '/api/admin/dlq/x'],
    ['GET', '/api/admin/users'],
    ['GET', '/api/admin/users/x'],
    ['PATCH', '/api/admin/users/x', { role: 'admin' }],
    ['GET', '/api/admin/queues'],
    ['GET', '/api/admin/stats'],
    ['GET', '/api/admin/audit'],
  ];
  test('no token → 401, a user → 403, on every route, before any validation', async () => {
    for (const [method, url, payload] of routes) {
      const m = method as 'GET';
      const anon = await t.app.inject({ method: m, url, ...(payload ? { payload } : {}) });
      assert.equal(anon.statusCode, 401, `${method} ${url} anonymous`);
      assert.match(anon.headers['content-type'] as string, /problem\+json/);
      const user = await t.app.inject({
        method: m,
        url,
        headers: bearer(alice.token),
        ...(payload ? { payload } : {}),
      });
      assert.equal(user.statusCode, 403, `${method} ${url} as a user`);
    }
    // Invalid input from a user is still a 403: they learn nothing about the route.
    const bad = await t.app.inject({ method: 'GET', url: '/api/admin/notes?limit=9999', headers: bearer(bob.token) });
    assert.equal(bad.statusCode, 403);
  });
});

describe('notes', () => {
  test('all users’ notes with owner email, newest first by default', async () => {
    const res = await get('/api/admin/notes');
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.total, 3);
    assert.deepEqual(
      body.data.map((n: { id: string }) => n.id),
      [ids.b1, ids.a2, ids.a1],
    );
    assert.equal(body.data[0].owner_email, 'bob@example.test');
    assert.equal(body.data[0].body, undefined, 'lists leave bodies out');
  });

  test('filters by status, priority, owner (id or email) and text, sorts and pages', async () => {
    const pick = async (qs: string) => (await get(`/api/admin/notes?${qs}`)).json();
    assert.deepEqual(
      (await pick('status=dead')).data.map((n: { id: string }) => n.id),
      [ids.a2],
    );
    assert.deepEqual(
      (await pick('priority=high')).data.map((n: { id: string }) => n.id),
      [ids.a1],
    );
    assert.equal((await pick(`user=${alice.id}`)).total, 2);
    assert.equal((await pick('user=BOB@example.test')).total, 1);
    assert.deepEqual(
      (await pick('q=secret')).data.map((n: { id: string }) => n.id),
      [ids.b1],
      'body, any case',
    );
    assert.deepEqual(
      (await pick('q=alpha')).data.map((n: { id: string }) => n.id),
      [ids.a1],
      'title',
    );
    assert.equal((await pick('q=100%25')).total, 0, '% is literal');
    const sorted = await pick('sort=title&limit=2&offset=1');
    assert.equal(sorted.total, 3);
    assert.deepEqual(
      sorted.data.map((n: { title: string }) => n.title),
      ['Beta plan', 'Gamma'],
    );
  });

  test('bad list parameters are 400s naming the parameter', async () => {
    for (const qs of ['limit=101', 'limit=0', 'offset=-1', 'sort=body', 'status=lost', 'nope=1']) {
      const res = await get(`/api/admin/notes?${qs}`);
      assert.equal(res.statusCode, 400, qs);
    }
  });

  test('one note with body, result and job history (newest job first)', async () => {
    const res = await get(`/api/admin/notes/${ids.a1}`);
    assert.equal(res.statusCode, 200);
    const note = res.json();
    assert.equal(note.body, 'milk and #eggs');
    assert.deepEqual(note.result.tags, ['eggs']);
    assert.equal(note.owner_email, 'alice@example.test');
    assert.deepEqual(
      note.jobs.map((j: { id: string }) => j.id),
      [ids.j3, ids.j1],
    );
    assert.equal((await get('/api/admin/notes/nope')).statusCode, 404);
  });
});

describe('jobs', () => {
  test('filters by status, kind, priority, note and error text', async () => {
    const pick = async (qs: string) =>
      (await get(`/api/admin/jobs?${qs}`)).json().data.map((j: { id: string }) => j.id) as string[];
    assert.deepEqual(await pick('status=dead'), [ids.j2]);
    assert.deepEqual(await pick('kind=webhook.deliver'), [ids.j3]);
    assert.deepEqual(await pick('priority=max'), [ids.j3]);
    assert.deepEqual(await pick(`note_id=${ids.a1}&sort=created_at`), [ids.j1, ids.j3]);
    assert.deepEqual(await pick('q=TIMEOUT'), [ids.j2]);
    const page = (await get('/api/admin/jobs?limit=1&offset=1&sort=-created_at')).json();
    assert.equal(page.total, 3);
    assert.deepEqual(
      page.data.map((j: { id: string }) => j.id),
      [ids.j2],
    );
    assert.equal((await get('/api/admin/jobs?status=nope')).statusCode, 400);
  });

  test('one job; an unknown one is 404', async () => {
    const res = await get(`/api/admin/jobs/${ids.j2}`);
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().dead_reason, 'upstream timeout');
    assert.equal((await get('/api/admin/jobs/nope')).statusCode, 404);
  });

  test('the DLQ lists dead jobs only, with reason, attempts, time and what they were for', async () => {
    const res = await get('/api/admin/dlq');
    assert.equal(res.statusCode, 200);
    const { data, total } = res.json();
    assert.equal(total, 1);
    assert.equal(data[0].id, ids.j2);
    assert.equal(data[0].reason, 'upstream timeout');
    assert.equal(data[0].attempts, 3);
    assert.equal(data[0].note_title, 'Beta plan');
    assert.equal(data[0].owner_email, 'alice@example.test');
    assert.ok(!Number.isNaN(Date.parse(data[0].dead_at)));
  });
});

describe('users', () => {
  test('lists and filters users; one user; unknown is 404', async () => {
    const all = (await get('/api/admin/users?sort=email')).json();
    assert.deepEqual(
      all.data.map((u: { email: string }) => u.email),
      ['alice@example.test', 'bob@example.test', 'boss@example.test'],
    );
    assert.equal(all.data[0].password_hash, undefined);
    assert.equal((await get('/api/admin/users?role=admin')).json().total, 1);
    assert.equal((await get('/api/admin/users?q=ALI')).json().data[0].id, alice.id);
    assert.equal((await get(`/api/admin/users/${bob.id}`)).json().email, 'bob@example.test');
    assert.equal((await get('/api/admin/users/nope')).statusCode, 404);
  });

  const patch = (id: string, payload: Record<string, unknown>, token = admin.token) =>
    t.app.inject({ method: 'PATCH', url: `/api/admin/users/${id}`, headers: bearer(token), payload });

  /** A token for the account as it is now (what logging in again would give). */
  const freshToken = async (id: string) => {
    const row = await getUserById(t.deps.database.db, id);
    assert.ok(row);
    return t.app.signToken({ id, role: row.role, tokenVersion: row.tokenVersion });
  };

  test('promoting a user to admin revokes their earlier tokens, takes effect at once, and is audited', async () => {
    const res = await patch(bob.id, { role: 'admin' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().role, 'admin');
    // A role change revokes the tokens issued before it (docs/security.md); a new one is an admin's.
    assert.equal((await get('/api/admin/stats', bob.token)).statusCode, 401);
    const asAdmin = await freshToken(bob.id);
    assert.equal((await get('/api/admin/stats', asAdmin)).statusCode, 200);
    const back = await patch(bob.id, { role: 'user' });
    assert.equal(back.json().role, 'user');
    assert.equal((await get('/api/admin/stats', asAdmin)).statusCode, 401, 'the admin token is revoked with the role');
    assert.equal((await get('/api/admin/stats', await freshToken(bob.id))).statusCode, 403);

    const audit = (await get(`/api/admin/audit?action=user.update&target=${bob.id}`)).json();
    assert.equal(audit.total, 2);
    const [latest] = audit.data;
    assert.equal(latest.actor_id, admin.id);
    assert.equal(latest.actor_email, 'boss@example.test');
    assert.equal(latest.count, 1);
    assert.deepEqual(latest.detail.before, { role: 'admin', disabled: false });
    assert.deepEqual(latest.detail.after, { role: 'user', disabled: false });
  });

  test('disabling a user stops their token at once; enabling lets them sign in again, not the old token', async () => {
    assert.equal((await patch(alice.id, { disabled: true })).statusCode, 200);
    const me = await t.app.inject({ method: 'GET', url: '/api/auth/me', headers: bearer(alice.token) });
    assert.equal(me.statusCode, 401);
    assert.equal((await patch(alice.id, { disabled: false })).json().disabled, false);
    const old = await t.app.inject({ method: 'GET', url: '/api/auth/me', headers: bearer(alice.token) });
    assert.equal(old.statusCode, 401, 'disabling revoked it for good');
    const fresh = await t.app.inject({
      method: 'GET',
      url: '/api/auth/me',
      headers: bearer(await freshToken(alice.id)),
    });
    assert.equal(fresh.statusCode, 200);
  });

  test('an admin cannot demote or disable themselves; bad patches are 400s and change nothing', async () => {
    const before = (await get('/api/admin/audit')).json().total;
    for (const payload of [{ role: 'user' }, { disabled: true }]) {
      const res = await patch(admin.id, payload);
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      assert.match(res.json().detail, /your own account/);
    }
    assert.equal((await patch(admin.id, { role: 'admin' })).statusCode, 200, 'a no-op on yourself is fine');
    for (const payload of [{}, { role: 'service' }, { disabled: 'yes' }, { email: 'x@y.z' }]) {
      assert.equal((await patch(bob.id, payload)).statusCode, 400, JSON.stringify(payload));
    }
    assert.equal((await patch('nope', { role: 'admin' })).statusCode, 404);
    assert.equal((await get(`/api/admin/users/${admin.id}`)).json().role, 'admin');
    assert.equal((await get('/api/admin/audit')).json().total, before + 1, 'only the no-op was recorded');
  });
});

test('the audit log pages newest first', async () => {
  const all = (await get('/api/admin/audit')).json();
  assert.ok(all.total >= 5);
  const page = (await get('/api/admin/audit?limit=2&offset=1')).json();
  assert.equal(page.data.length, 2);
  assert.equal(page.data[0].id, all.data[1].id);
  assert.ok(all.data[0].id > all.data[1].id);
  assert.equal((await get('/api/admin/audit?limit=500')).statusCode, 400);
});

test('the admin routes are in the OpenAPI document', async () => {
  const res = await t.app.inject({ method: 'GET', url: '/docs/json' });
  assert.equal(res.statusCode, 200);
  const paths = Object.keys(res.json().paths);
  for (const p of ['/api/admin/notes/{id}', '/api/admin/dlq/promote', '/api/admin/users/{id}', '/api/admin/stats']) {
    assert.ok(paths.includes(p), p);
  }
  assert.ok(!paths.some((p) => p.startsWith('/admin')), 'the console itself is hidden');
});
