import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { loadConfig } from '@notes/contracts';
import { bearer, seedUser } from './admin-fixtures.ts';
import { startTestApp, type TestApp } from './helpers.ts';

/** GET /api/admin/config: the console learns TRACE_URL_TEMPLATE from it (docs/operations.md). */
const apps: TestApp[] = [];
after(async () => {
  for (const t of apps) await t.close();
});

async function configOf(env: Record<string, string>) {
  const t = await startTestApp('consolecfg', env);
  apps.push(t);
  const admin = await seedUser(t.app, t.deps.database, { role: 'admin' });
  const user = await seedUser(t.app, t.deps.database);
  const get = (token?: string) =>
    t.app.inject({ method: 'GET', url: '/api/admin/config', headers: token ? bearer(token) : {} });
  return { asAdmin: await get(admin.token), asUser: await get(user.token), anonymous: await get() };
}

test('admins get the trace URL template; others get 401/403', async () => {
  const template = 'https://grafana.example/explore?traceId={trace_id}';
  const { asAdmin, asUser, anonymous } = await configOf({ TRACE_URL_TEMPLATE: template });
  assert.equal(asAdmin.statusCode, 200);
  assert.deepEqual(asAdmin.json(), { trace_url_template: template });
  assert.equal(asUser.statusCode, 403);
  assert.equal(anonymous.statusCode, 401);
  assert.match(String(anonymous.headers['content-type']), /application\/problem\+json/);
});

test('without TRACE_URL_TEMPLATE the template is null', async () => {
  const { asAdmin } = await configOf({});
  assert.deepEqual(asAdmin.json(), { trace_url_template: null });
});

test('a template without {trace_id}, or not http(s), is refused naming the variable', () => {
  assert.throws(() => loadConfig({ TRACE_URL_TEMPLATE: 'https://grafana.example/explore' }), /TRACE_URL_TEMPLATE/);
  assert.throws(() => loadConfig({ TRACE_URL_TEMPLATE: 'javascript:alert({trace_id})' }), /TRACE_URL_TEMPLATE/);
});
