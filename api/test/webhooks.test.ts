import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eq } from 'drizzle-orm';
import { getWebhookById, listWebhooksForEvent } from '../src/modules/webhooks/webhooks-repository.ts';
import { webhooks } from '../src/platform/db/schema.ts';
import { seedUserRow } from './db-fixtures.ts';
import { startTestApp, type TestApp } from './helpers.ts';

/** A user row and its bearer header (the auth routes are not under test here). */
async function makeUser(t: TestApp, name: string): Promise<{ id: string; auth: { authorization: string } }> {
  const { id, token } = await seedUserRow(t, name);
  return { id, auth: { authorization: `Bearer ${token}` } };
}

describe('webhooks API (private networks refused, the default)', () => {
  let t: TestApp;
  let alice: Awaited<ReturnType<typeof makeUser>>;
  let bob: Awaited<ReturnType<typeof makeUser>>;

  before(async () => {
    t = await startTestApp('webhooks');
    alice = await makeUser(t, 'alice');
    bob = await makeUser(t, 'bob');
  });
  after(() => t?.close());

  test('create returns the secret once; list and get never show it', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/webhooks',
      headers: alice.auth,
      payload: { url: 'https://8.8.8.8/hooks/notes' },
    });
    assert.equal(created.statusCode, 201, created.body);
    const body = created.json();
    assert.equal(body.url, 'https://8.8.8.8/hooks/notes');
    assert.deepEqual(body.events, ['note.processed']);
    assert.match(body.secret, /^whsec_[A-Za-z0-9+/]+=*$/);
    assert.ok(Buffer.from(body.secret.slice(6), 'base64').length >= 24, 'at least 24 random bytes');
    assert.equal(created.headers.location, `/api/webhooks/${body.id}`);

    const list = await t.app.inject({ method: 'GET', url: '/api/webhooks', headers: alice.auth });
    assert.equal(list.statusCode, 200);
    assert.equal(list.json().total, 1);
    assert.deepEqual(list.json().data, [
      {
        id: body.id,
        url: body.url,
        events: ['note.processed'],
        created_at: body.created_at,
        disabled_at: null,
        disabled_reason: null,
      },
    ]);
    assert.doesNotMatch(list.body, /whsec_/);

    const one = await t.app.inject({ method: 'GET', url: `/api/webhooks/${body.id}`, headers: alice.auth });
    assert.equal(one.statusCode, 200);
    assert.equal(one.json().secret, undefined);

    // The delivery path reads the stored secret by id (internal routes use this).
    const row = await getWebhookById(t.deps.database.db, body.id);
    assert.equal(row?.secret, body.secret);
    assert.deepEqual(row?.events, ['note.processed']);
    assert.equal((await listWebhooksForEvent(t.deps.database.db, alice.id, 'note.processed')).length, 1);
  });

  test("a user never sees or deletes another user's endpoint (404, not 403)", async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/webhooks',
      headers: alice.auth,
      payload: { url: 'https://1.1.1.1/a', events: ['note.processed'] },
    });
    assert.equal(created.statusCode, 201);
    const { id } = created.json();

    const bobList = await t.app.inject({ method: 'GET', url: '/api/webhooks', headers: bob.auth });
    assert.deepEqual(bobList.json(), { data: [], total: 0 });
    const bobGet = await t.app.inject({ method: 'GET', url: `/api/webhooks/${id}`, headers: bob.auth });
    assert.equal(bobGet.statusCode, 404);
    const bobDelete = await t.app.inject({ method: 'DELETE', url: `/api/webhooks/${id}`, headers: bob.auth });
    assert.equal(bobDelete.statusCode, 404);
    assert.ok(await getWebhookById(t.deps.database.db, id), 'still there');

    const del = await t.app.inject({ method: 'DELETE', url: `/api/webhooks/${id}`, headers: alice.auth });
    assert.equal(del.statusCode, 204);
    const again = await t.app.inject({ method: 'DELETE', url: `/api/webhooks/${id}`, headers: alice.auth });
    assert.equal(again.statusCode, 404);
    assert.equal(await getWebhookById(t.deps.database.db, id), null);
  });

  test('no token is a 401; bad bodies are 400s naming the field', async () => {
    assert.equal((await t.app.inject({ method: 'GET', url: '/api/webhooks' })).statusCode, 401);
    const cases: [Record<string, unknown>, string][] = [
      [{}, 'url'],
      [{ url: 'https://8.8.8.8/', events: ['note.created'] }, 'events'],
      [{ url: 'https://8.8.8.8/', events: [] }, 'events'],
      [{ url: 'https://8.8.8.8/', secret: 'whsec_mine' }, 'secret'],
      [{ url: 42 }, 'url'],
      [{ url: 'ftp://8.8.8.8/' }, 'url'],
      [{ url: 'https://user:pw@8.8.8.8/' }, 'url'],
      [{ url: 'not a url' }, 'url'],
    ];
    for (const [payload, field] of cases) {
      const res = await t.app.inject({ method: 'POST', url: '/api/webhooks', headers: alice.auth, payload });
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      assert.match(res.headers['content-type'] as string, /application\/problem\+json/);
      assert.match(JSON.stringify(res.json()), new RegExp(field), JSON.stringify(payload));
    }
  });

  test('URLs that reach loopback, private or link-local addresses are refused (SSRF)', async () => {
    const before = await t.deps.database.db.select().from(webhooks).where(eq(webhooks.userId, bob.id));
    for (const url of [
      'http://localhost:3000/hook',
      'http://127.0.0.1/hook',
      'http://10.0.0.8/hook',
      'http://192.168.0.1/',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]/hook',
      'http://[::ffff:127.0.0.1]/hook',
      'http://0x7f000001/hook',
      'http://2130706433/hook',
      'http://0.0.0.0/',
      'http://100.64.0.1/',
    ]) {
      const res = await t.app.inject({ method: 'POST', url: '/api/webhooks', headers: bob.auth, payload: { url } });
      assert.equal(res.statusCode, 400, url);
      assert.equal(res.json().field, 'url', url);
      assert.match(res.json().detail, /private|loopback|reserved/, url);
    }
    const afterRows = await t.deps.database.db.select().from(webhooks).where(eq(webhooks.userId, bob.id));
    assert.equal(afterRows.length, before.length, 'a refused request stores nothing');
  });
});

describe('webhooks API with WEBHOOK_ALLOW_PRIVATE_NETWORKS=true', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp('webhookspriv', { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' });
  });
  after(() => t?.close());

  test('private and loopback URLs are accepted; the scheme is still checked', async () => {
    const carol = await makeUser(t, 'carol');
    for (const url of ['http://localhost:3000/hook', 'http://127.0.0.1:9/x', 'http://[::1]/']) {
      const res = await t.app.inject({ method: 'POST', url: '/api/webhooks', headers: carol.auth, payload: { url } });
      assert.equal(res.statusCode, 201, `${url}: ${res.body}`);
    }
    const bad = await t.app.inject({
      method: 'POST',
      url: '/api/webhooks',
      headers: carol.auth,
      payload: { url: 'file:///etc/passwd' },
    });
    assert.equal(bad.statusCode, 400);
  });
});
