import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers.ts';
import { createNote, newUser, type TestUser } from './notes-fixtures.ts';

/**
 * Every numeric query parameter of every route, at the edges of what a number can be: a value
 * out of range or not an integer is a 400 problem+json, never a 500 (docs/isolation.md).
 * The routes are found from the app itself, so a new route's numbers are checked too.
 */

const INVALID = [
  '1e400',
  '-1e400',
  'Infinity',
  '-Infinity',
  'NaN',
  '1.5',
  '-1',
  '99999999999999999999',
  '9007199254740993',
  '1e20',
  'abc',
  '',
  '%00',
  '1,2',
];
/** Numbers in some spelling: accepted or refused, but never a 500. */
const ODD = ['-0', '0', '1e1', '1.0', ' 5', '+5', '005', '0x10', '0b11'];

let t: TestApp;
let user: TestUser;
let admin: TestUser;
let noteId: string;

before(async () => {
  t = await startTestApp('querynumbers');
  user = await newUser(t, 'numbers');
  admin = await newUser(t, 'admin');
  await t.deps.database.pool.query(`UPDATE users SET role = 'admin' WHERE id = ?`, [admin.id]);
  t.app.forgetUserState(admin.id);
  noteId = (await createNote(t, user)).id;
});
after(() => t?.close());

/** GET routes and the names of their integer/number query parameters. */
function numericQueries(): { url: string; params: string[] }[] {
  const swagger = t.app.swagger() as {
    paths: Record<string, { get?: { parameters?: { in: string; name: string; schema?: { type?: string } }[] } }>;
  };
  const out: { url: string; params: string[] }[] = [];
  for (const [path, item] of Object.entries(swagger.paths)) {
    const params = (item.get?.parameters ?? [])
      .filter((p) => p.in === 'query' && (p.schema?.type === 'integer' || p.schema?.type === 'number'))
      .map((p) => p.name);
    if (params.length) out.push({ url: path.replace(/\{[^}]+\}/g, noteId), params });
  }
  return out;
}

test('every numeric query parameter: invalid numbers are a 400 problem+json, odd ones never a 500', async () => {
  const routes = numericQueries();
  const paths = routes.map((r) => r.url);
  // The ones known today, so the discovery itself can't silently find nothing.
  for (const known of ['/api/notes', `/api/notes/${noteId}/jobs`, '/api/admin/notes', '/api/admin/jobs']) {
    assert.ok(paths.includes(known), `${known} has numeric query parameters`);
  }
  let checked = 0;
  for (const { url, params } of routes) {
    const token = url.startsWith('/api/admin') ? admin.token : user.token;
    for (const name of params) {
      for (const value of [...INVALID, ...ODD]) {
        const res = await t.app.inject({
          method: 'GET',
          url: `${url}?${name}=${encodeURIComponent(value).replace('%2500', '%00')}`,
          headers: { authorization: `Bearer ${token}` },
        });
        const what = `${url}?${name}=${value}`;
        assert.ok(res.statusCode < 500, `${what} → ${res.statusCode} ${res.body}`);
        if (INVALID.includes(value)) {
          assert.equal(res.statusCode, 400, `${what} → ${res.statusCode} ${res.body}`);
          assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
        }
        checked++;
      }
    }
  }
  assert.ok(checked > 100, `${checked} requests`);
});
