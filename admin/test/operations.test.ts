import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConsumerProcess } from '@notes/consumers';
import type { ControlList, FailureGroups, JobDetail } from '@notes/contracts';
import { freePort, waitFor } from '@notes/contracts/testing';
import type { Page } from 'playwright-core';
import { DlqDrainer } from '../../api/src/workers/dlq-drainer.ts';
import { bearer } from '../../api/test/admin-fixtures.ts';
import { type Browser, launchBrowser } from './browser.ts';
import { type ConsoleServer, ensureBuilt, PASSWORD, startConsoleServer } from './support.ts';

/**
 * The day-2 pages in headless Chromium against the real product (docs/operations.md): the API
 * serving the console, a real consumer, and webhook endpoints that fail in three ways (a 503
 * with a body, a refused connection, a timeout), so jobs get real attempts, wait out a real
 * backoff (10 min: RETRY_DELAYS_MS=600000, two attempts in all) and really die.
 */
const TRACE_TEMPLATE = 'http://traces.example.test/explore?trace={trace_id}';
let s: ConsoleServer;
let b: Browser;
let page: Page;
let consumer: ConsumerProcess;
let drainer: DlqDrainer;
let hooks: Server;
let downAnswer = 503;
const calls = { down: 0, slow: 0 };
const jobsOf: Record<'down' | 'refused' | 'slow', string[]> = { down: [], refused: [], slow: [] };

function endpoint(req: IncomingMessage, res: ServerResponse) {
  req.resume();
  req.on('end', () => {
    if (req.url === '/down') {
      calls.down += 1;
      res
        .writeHead(downAnswer, { 'content-type': 'text/plain' })
        .end(downAnswer === 200 ? 'ok' : 'upstream down: maintenance until 14:00');
    } else if (req.url === '/slow') {
      calls.slow += 1; // never answers: the delivery times out
    } else {
      res.writeHead(404).end();
    }
  });
}

const apiAs = async <T>(token: string, method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) => {
  const res = await s.t.app.inject({ method, url, headers: bearer(token), payload: payload as never });
  assert.ok(res.statusCode < 300, `${method} ${url}: ${res.statusCode} ${res.body}`);
  return res.json() as T;
};
const admin = <T>(method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) =>
  apiAs<T>(s.admin.token, method, url, payload);
const job = (id: string) => admin<JobDetail>('GET', `/api/admin/jobs/${id}`);

before(async () => {
  ensureBuilt();
  hooks = createServer(endpoint);
  await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}`;
  const env = {
    TRACE_URL_TEMPLATE: TRACE_TEMPLATE,
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
    WEBHOOK_TIMEOUT_MS: '300',
    RETRY_DELAYS_MS: '600000',
  };
  s = await startConsoleServer('consoleops', env);
  // As the API process does (api/src/main.ts): dead messages move from notes.dlq into the inbox.
  drainer = new DlqDrainer(s.t.deps);
  drainer.start();
  consumer = new ConsumerProcess(s.t.ns.config({ ...env, API_URL: s.baseUrl, CONSUMER_PORT: '0' }));
  await consumer.start();

  // Three endpoints, each failing its own way: three failure groups once the jobs die.
  const urls = { down: `${base}/down`, refused: `http://127.0.0.1:${await freePort()}/refused`, slow: `${base}/slow` };
  const hookIds: Record<string, keyof typeof jobsOf> = {};
  for (const [name, url] of Object.entries(urls) as [keyof typeof jobsOf, string][]) {
    const created = await apiAs<{ id: string }>(s.user.token, 'POST', '/api/webhooks', { url });
    hookIds[created.id] = name;
  }
  for (const title of ['First note', 'Second note']) {
    await apiAs(s.user.token, 'POST', '/api/notes', { title, body: `${title} #ops` });
  }
  // Every delivery fails once and then waits out its 10-minute backoff.
  const failed = await waitFor(
    'six webhook jobs waiting out their backoff',
    async () => {
      const list = await admin<{ data: { id: string; webhook_id: string }[] }>(
        'GET',
        '/api/admin/jobs?kind=webhook.deliver&status=failed&limit=100',
      );
      return list.data.length === 6 ? list.data : null;
    },
    60_000,
  );
  for (const j of failed) jobsOf[hookIds[j.webhook_id] as keyof typeof jobsOf].push(j.id);

  b = await launchBrowser();
  page = b.page;
  await page.goto(`${s.baseUrl}/admin/login`);
  await page.locator('input[name=email]').fill(s.admin.email);
  await page.locator('input[name=password]').fill(PASSWORD);
  await page.getByRole('button', { name: /sign in/i }).click();
  await page.waitForURL(/\/admin\/?$/);
});

after(async () => {
  await b?.close();
  await consumer?.stop();
  await drainer?.stop();
  hooks?.closeAllConnections();
  await new Promise<void>((resolve) => (hooks ? hooks.close(() => resolve()) : resolve()));
  await s?.close();
});

const url = (path: string) => `${s.baseUrl}/admin${path}`;
const ROWS = 'tbody tr.RaDatagrid-row';
const dialog = () => page.getByRole('dialog');

test('a job page shows each attempt with HTTP status, answer and trace link; "retry now" tries it at once', async () => {
  const id = jobsOf.down[0] as string;
  const before = await job(id);
  assert.equal(before.status, 'failed');
  assert.equal(before.history.length, 1);
  // Traces are recorded when tracing is on (not in this process): give the attempt the id a
  // traced run would have, so the link is checked either way.
  let traceId = before.history[0]?.trace_id;
  if (!traceId) {
    traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    await s.t.deps.database.pool.query('UPDATE job_attempts SET trace_id = ? WHERE job_id = ? AND number = 1', [
      traceId,
      id,
    ]);
  }

  await page.goto(url(`/jobs/${id}/show`));
  const first = page.getByTestId('attempt-1');
  await first.waitFor();
  assert.equal((await first.getByTestId('attempt-http-status').textContent())?.trim(), '503');
  assert.match((await first.getByTestId('attempt-response').textContent()) ?? '', /upstream down: maintenance/);
  assert.match((await first.getByTestId('attempt-error').textContent()) ?? '', /503/);
  assert.match((await page.getByTestId('job-payload').textContent()) ?? '', new RegExp(before.note_id));
  const href = await first.getByTestId('attempt-trace').getAttribute('href');
  assert.equal(href, TRACE_TEMPLATE.replace('{trace_id}', traceId));
  await b.screenshot('ops-01-job-attempts');

  // Retry now: the second (last) attempt fails the same way, so the job dies with two attempts.
  await page.getByRole('button', { name: 'Retry now' }).click();
  await page.getByTestId('attempt-2').waitFor({ timeout: 30_000 });
  const after = await waitFor('the job to be dead', async () => {
    const j = await job(id);
    return j.status === 'dead' ? j : null;
  });
  assert.deepEqual(
    after.history.map((a) => [a.number, a.http_status]),
    [
      [1, 503],
      [2, 503],
    ],
  );
  await page.reload();
  await page.locator('[data-status="dead"]').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Retry now' }).count(), 0, 'a dead job is promoted, not retried');
  await b.screenshot('ops-02-job-dead');
});

test('the failure inbox groups dead jobs; a group is promoted after a dry run that lists it', async () => {
  // The other deliveries die too (retry now through the API, as the CLI would).
  for (const id of [...jobsOf.down.slice(1), ...jobsOf.refused, ...jobsOf.slow]) {
    await admin('POST', `/api/admin/jobs/${id}/retry`);
  }
  const groups = await waitFor('three groups of two', async () => {
    const { data } = await admin<FailureGroups>('GET', '/api/admin/failures');
    return data.length === 3 && data.every((g) => g.count === 2) ? data : null;
  });

  await page.goto(url('/failures'));
  for (const g of groups) {
    const row = page.locator(ROWS, { hasText: g.message });
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', new RegExp(`${g.kind}.*2`));
  }
  await b.screenshot('ops-03-failure-inbox');

  const down = await job(jobsOf.down[0] as string);
  const group = groups.find((g) => down.last_error?.includes(g.message) || g.message.includes('503'));
  assert.ok(group, `no group for ${down.last_error}: ${JSON.stringify(groups)}`);
  const row = page.locator(ROWS, { hasText: group.message });

  // The dialog is a dry run: it names what would move, and cancelling moves nothing.
  await row.getByRole('button', { name: 'Promote' }).click();
  await dialog().getByText('2 dead jobs would be promoted back to work:').waitFor();
  for (const id of jobsOf.down) await dialog().getByRole('link', { name: id }).waitFor();
  await b.screenshot('ops-04-promote-dry-run');
  await dialog().getByRole('button', { name: 'Cancel' }).click();
  assert.equal((await job(jobsOf.down[0] as string)).status, 'dead');

  downAnswer = 200; // the endpoint is back
  await row.getByRole('button', { name: 'Promote' }).click();
  await dialog().getByText('2 dead jobs would be promoted back to work:').waitFor();
  await dialog().getByRole('button', { name: 'Confirm' }).click();
  await page.getByText('Promoted 2 dead jobs back to work.').waitFor();
  await waitFor('the promoted deliveries to succeed', async () => {
    const all = await Promise.all(jobsOf.down.map(job));
    return all.every((j) => j.status === 'processed');
  });
  await waitFor('the group to leave the inbox', async () => (await page.locator(ROWS).count()) === 2);
});

test('a filter discards what it matches (dry run first); "discard all" empties the inbox', async () => {
  const { data } = await admin<FailureGroups>('GET', '/api/admin/failures');
  const refused = data.find((g) => /refused/i.test(`${g.error_class} ${g.message}`));
  assert.ok(refused, JSON.stringify(data));

  const card = page.getByTestId('filter-actions');
  await card.getByLabel('Reason contains').fill('ECONNREFUSED');
  await card.getByRole('button', { name: 'Discard matching' }).click();
  await dialog().getByText('2 dead jobs would be discarded for good:').waitFor();
  for (const id of jobsOf.refused) await dialog().getByRole('link', { name: id }).waitFor();
  await dialog().getByRole('button', { name: 'Confirm' }).click();
  await page.getByText('Discarded 2 dead jobs.').waitFor();
  for (const id of jobsOf.refused) assert.equal((await job(id)).status, 'discarded');
  await waitFor('one group left', async () => (await page.locator(ROWS).count()) === 1);

  await page.getByRole('button', { name: 'Discard all' }).click();
  await dialog().getByText('2 dead jobs would be discarded for good:').waitFor();
  await dialog().getByRole('button', { name: 'Confirm' }).click();
  // (The filter's notification may still be on screen: wait for the jobs themselves.)
  await waitFor('the rest discarded', async () =>
    (await Promise.all(jobsOf.slow.map(job))).every((j) => j.status === 'discarded'),
  );
  assert.deepEqual((await admin<FailureGroups>('GET', '/api/admin/failures')).data, []);
  await b.screenshot('ops-05-inbox-empty');
});

test('pausing a kind holds its work in RabbitMQ until it is resumed', async () => {
  await page.goto(url('/control'));
  const row = page.locator(ROWS, { hasText: 'webhook.deliver' });
  await row.locator('[data-state="running"]').waitFor();
  await row.getByRole('button', { name: 'Pause' }).click();
  await dialog().getByRole('button', { name: 'Confirm' }).click();
  await row.locator('[data-state="paused"]').waitFor();
  await row.getByText(s.admin.email).or(row.getByText(s.admin.id)).first().waitFor();
  await b.screenshot('ops-06-paused');
  const { kinds } = await admin<ControlList>('GET', '/api/admin/control');
  assert.deepEqual(
    kinds.map((k) => [k.kind, k.paused]),
    [
      ['note.process', false],
      ['webhook.deliver', true],
    ],
  );

  // Consumers obey within about 2 s; a note written after that is analysed, its webhooks wait.
  await sleep(3_000);
  const before = calls.down;
  const note = await apiAs<{ id: string }>(s.user.token, 'POST', '/api/notes', { title: 'While paused', body: 'x' });
  await waitFor('the note to be processed', async () => {
    const n = await admin<{ status: string }>('GET', `/api/admin/notes/${note.id}`);
    return n.status === 'processed';
  });
  await sleep(2_000);
  assert.equal(calls.down, before, 'no webhook delivery while webhook.deliver is paused');

  await row.getByRole('button', { name: 'Resume' }).click();
  await row.locator('[data-state="running"]').waitFor();
  await waitFor('the held delivery after resume', () => calls.down > before);
  assert.deepEqual(b.errors, [], 'no uncaught errors in the page');
});
