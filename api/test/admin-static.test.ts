import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { installErrorHandler } from '../src/platform/errors/handler.ts';
import adminStatic from '../src/platform/http/admin-static.ts';

/**
 * Serving the built console at /admin: files, SPA fallback, caching, and a clear 503 before
 * the console is built. A throwaway dist folder stands in for admin/dist, so this test neither
 * needs nor disturbs a real build.
 */
let root: string;
let dir: string;
let built: FastifyInstance;
let missing: FastifyInstance;

async function serve(distDir: string) {
  const app = Fastify();
  installErrorHandler(app as never);
  await app.register(adminStatic, { distDir });
  await app.ready();
  return app;
}

before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'admin-static-'));
  dir = path.join(root, 'dist');
  await mkdir(path.join(dir, 'assets'), { recursive: true });
  await writeFile(path.join(dir, 'index.html'), '<!doctype html><div id="root"></div>');
  await writeFile(path.join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
  await writeFile(path.join(dir, 'favicon.svg'), '<svg/>');
  await writeFile(path.join(root, 'secret.txt'), 'outside');
  built = await serve(dir);
  missing = await serve(path.join(dir, 'does-not-exist'));
});
after(async () => {
  await built?.close();
  await missing?.close();
  await rm(root, { recursive: true, force: true });
});

test('/admin redirects to /admin/, which is the console', async () => {
  const redirect = await built.inject('/admin');
  assert.equal(redirect.statusCode, 301);
  assert.equal(redirect.headers.location, '/admin/');
  const index = await built.inject('/admin/');
  assert.equal(index.statusCode, 200);
  assert.match(index.headers['content-type'] as string, /text\/html/);
  assert.match(index.body, /id="root"/);
  assert.equal(index.headers['cache-control'], 'no-cache');
});

test('hashed assets are served and cached for good; other files briefly', async () => {
  const js = await built.inject('/admin/assets/index-abc123.js');
  assert.equal(js.statusCode, 200);
  assert.match(js.headers['content-type'] as string, /javascript/);
  assert.match(js.headers['cache-control'] as string, /immutable/);
  const svg = await built.inject('/admin/favicon.svg');
  assert.equal(svg.statusCode, 200);
  assert.doesNotMatch(String(svg.headers['cache-control']), /immutable/);
});

test('client-side routes fall back to index.html; a missing asset is a 404', async () => {
  for (const url of ['/admin/notes', '/admin/notes/123/show', '/admin/dlq?filter=%7B%7D']) {
    const res = await built.inject(url);
    assert.equal(res.statusCode, 200, url);
    assert.match(res.body, /id="root"/, url);
  }
  assert.equal((await built.inject('/admin/assets/nope.js')).statusCode, 404);
});

test('paths escaping the build folder never serve outside files', async () => {
  for (const url of ['/admin/../secret.txt', '/admin/%2e%2e/secret.txt', '/admin/..%2fsecret.txt']) {
    const res = await built.inject(url);
    assert.doesNotMatch(res.body, /outside/, url);
  }
});

test('before the console is built, /admin is a 503 problem saying how to build it', async () => {
  for (const url of ['/admin/', '/admin/notes']) {
    const res = await missing.inject(url);
    assert.equal(res.statusCode, 503, url);
    assert.match(res.headers['content-type'] as string, /application\/problem\+json/);
    assert.match(res.json().detail, /npm run build -w @notes\/admin/);
  }
});
