import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConsumerProcess } from '@notes/consumers';
import { QUEUES } from '@notes/contracts';
import type { Locator, Page } from 'playwright-core';
import { getJob, getNote } from '../../api/src/modules/admin/admin-repository.ts';
import { getUserById } from '../../api/src/modules/auth/users-repository.ts';
import { bearer, openBroker, type SeededUser, seedJob, seedNote, seedUser } from '../../api/test/admin-fixtures.ts';
import { NOT_ADMIN_MESSAGE } from '../src/providers/auth-provider.ts';
import { type Browser, launchBrowser } from './browser.ts';
import { type ConsoleServer, ensureBuilt, PASSWORD, startConsoleServer } from './support.ts';

/**
 * The console in headless Chromium against the real product: the API with the built console
 * at /admin, on the real MariaDB, Redis and RabbitMQ (and, for the promote, a real consumer).
 * Tests run in order and share one logged-in browser. Screenshots go to test-output/admin/.
 */
let s: ConsoleServer;
let b: Browser;
let page: Page;
let broker: Awaited<ReturnType<typeof openBroker>>;
let bob: SeededUser;
let consumer: ConsumerProcess | null = null;
const seeded: Record<string, string> = {};

before(async () => {
  ensureBuilt();
  s = await startConsoleServer('console');
  const db = s.t.deps.database;
  broker = await openBroker(s.t.deps.config);
  bob = await seedUser(s.t.app, db, { email: 'bob@example.test', name: 'Bob' });
  const w = { userId: s.user.id };
  seeded.processed = await seedNote(db, w.userId, {
    title: 'Groceries list',
    body: 'milk #food https://shop.example',
    status: 'processed',
    result: {
      word_count: 3,
      char_count: 31,
      reading_time_seconds: 1,
      tags: ['food'],
      links: ['https://shop.example'],
      checksum: 'c0ffee'.padEnd(64, '0'),
    },
  });
  seeded.processedJob = await seedJob(
    db,
    { id: seeded.processed, ...w },
    {
      status: 'processed',
      finishedAt: new Date(Date.now() - 60_000),
    },
  );
  seeded.queued = await seedNote(db, w.userId, { title: 'Queued thoughts' });
  await seedJob(db, { id: seeded.queued, ...w }, { status: 'queued' });
  await seedJob(db, { id: seeded.queued, ...w }, { status: 'failed', attempts: 1, lastError: 'HTTP 503' });
  for (const [key, title] of [
    ['dead', 'Dead note'],
    ['dead2', 'Doomed note'],
  ] as const) {
    seeded[key] = await seedNote(db, w.userId, { title, body: `body of ${title}`, status: 'dead' });
    seeded[`${key}Job`] = await seedJob(
      db,
      { id: seeded[key] as string, ...w },
      {
        status: 'dead',
        attempts: 3,
        lastError: 'analysis crashed',
        deadReason: 'analysis crashed',
        finishedAt: new Date(),
      },
    );
    await broker.deadLetter({ id: seeded[`${key}Job`] as string, noteId: seeded[key] as string, userId: w.userId });
  }
  b = await launchBrowser();
  page = b.page;
});

after(async () => {
  await consumer?.stop();
  await b?.close();
  await broker?.close();
  await s?.close();
});

const url = (path: string) => `${s.baseUrl}/admin${path}`;
const api = async (path: string) =>
  (await s.t.app.inject({ method: 'GET', url: path, headers: bearer(s.admin.token) })).json();

/** Polls until the locator's text is `expected` (or times out), then asserts it. */
async function textOf(locator: Locator, expected: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let text: string | null = null;
  while (Date.now() < deadline) {
    text = (await locator.textContent({ timeout: timeoutMs }).catch(() => null))?.trim() ?? null;
    if (text === expected) return;
    await sleep(100);
  }
  assert.equal(text, expected);
}

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v) return v;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function logIn(email: string) {
  await page.locator('input[name=email]').fill(email);
  await page.locator('input[name=password]').fill(PASSWORD);
  await page.getByRole('button', { name: /sign in/i }).click();
}

/** Body rows of the list on screen (the header row has the same class). */
const ROWS = 'tbody tr.RaDatagrid-row';
const row = (text: string) => page.locator(ROWS, { hasText: text });

test('a non-admin is refused at login with a clear message', async () => {
  await page.goto(url('/'));
  await page.waitForURL(/\/admin\/login$/);
  await logIn(s.user.email);
  await page.getByText(NOT_ADMIN_MESSAGE).waitFor();
  await b.screenshot('01-login-refused');
  assert.match(page.url(), /\/admin\/login$/);
  assert.equal(await page.evaluate(() => localStorage.getItem('notes-admin-token')), null);
});

test('an admin logs in and the dashboard shows the figures of /api/admin/stats', async () => {
  await page.reload();
  await logIn(s.admin.email);
  await page.waitForURL(/\/admin\/?$/);
  const stats = await api('/api/admin/stats');
  const figure = (id: string) => page.getByTestId(id);
  await textOf(figure('stat-notes-total'), String(stats.notes.total));
  await textOf(figure('stat-jobs-total'), String(stats.jobs.total));
  await textOf(figure('stat-dlq-jobs'), String(stats.dlq.jobs));
  await textOf(figure('stat-dlq-messages'), String(stats.dlq.messages));
  await textOf(figure('stat-throughput'), String(stats.throughput.per_minute));
  for (const [status, n] of Object.entries(stats.notes.by_status))
    await textOf(figure(`notes-status-${status}`), String(n));
  for (const [status, n] of Object.entries(stats.jobs.by_status))
    await textOf(figure(`jobs-status-${status}`), String(n));
  assert.equal(stats.dlq.jobs, 2);
  await textOf(figure(`queue-${QUEUES.dead}-ready`), '2');
  await page.getByTestId('throughput-chart').waitFor();
  await b.screenshot('02-dashboard');
});

test('the dashboard refreshes live', async () => {
  const before = Number(await page.getByTestId('stat-notes-total').textContent());
  await seedNote(s.t.deps.database, s.user.id, { title: 'Arrived while watching' });
  await textOf(page.getByTestId('stat-notes-total'), String(before + 1));
});

test('jobs can be filtered by status', async () => {
  await page.goto(url('/jobs'));
  await row('analysis crashed').first().waitFor();
  await page.getByRole('combobox', { name: 'Status' }).click();
  await page.getByRole('option', { name: 'dead', exact: true }).click();
  await page.waitForURL(/status%22%3A%22dead|status":"dead/);
  const dead = await api('/api/admin/jobs?status=dead');
  await until('only dead jobs listed', async () => {
    return (await page.locator(ROWS).count()) === dead.total;
  });
  const chips = await page
    .locator(`${ROWS} [data-status]`)
    .evaluateAll((els) => els.map((e) => e.getAttribute('data-status')));
  assert.deepEqual(chips, ['dead', 'dead']);
  await b.screenshot('03-jobs-filtered-dead');
});

test("a note's page shows its result and job history", async () => {
  await page.goto(url('/notes'));
  await row('Groceries list').click();
  await page.waitForURL(new RegExp(`/admin/notes/${seeded.processed}/show$`));
  await textOf(page.getByTestId('result-word-count'), '3');
  await page.getByTestId('note-result').getByText('#food').waitFor();
  await page.getByRole('link', { name: seeded.processedJob }).waitFor();
  await b.screenshot('04-note-show');
});

test('promoting a dead job from the DLQ page sends it back to work, and a consumer processes it', async () => {
  await page.goto(url('/dlq'));
  await row('Dead note').waitFor();
  await b.screenshot('05-dlq');
  // "Promote all" asks first, with a dry run's count; cancelling moves nothing.
  await page.getByRole('button', { name: 'Promote all' }).click();
  await page.getByRole('dialog').getByText('2 dead jobs would be promoted.').waitFor();
  await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
  assert.equal(await broker.depth(QUEUES.dead), 2);

  await row('Dead note').getByRole('checkbox').check();
  await page.getByRole('button', { name: 'Promote', exact: true }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
  await page.getByText('Promoted 1 dead job back to work.').waitFor();
  await until('the row to leave the list', async () => (await row('Dead note').count()) === 0);
  await row('Doomed note').waitFor();
  await b.screenshot('06-dlq-promoted');

  const db = s.t.deps.database.db;
  const jobId = seeded.deadJob as string;
  const job = await getJob(db, jobId);
  assert.equal(job?.status, 'queued');
  assert.equal(job?.attempts, 0);
  assert.equal(await broker.depth(QUEUES.dead), 1, 'only the other dead job is left in notes.dlq');
  assert.equal(await broker.depth(QUEUES.work), 1);

  // The whole way: a real consumer takes the promoted message and the API records the result.
  consumer = new ConsumerProcess(s.t.ns.config({ API_URL: s.baseUrl, CONSUMER_PORT: '0' }));
  await consumer.start();
  const processed = await until('the promoted job to be processed', async () => {
    const j = await getJob(db, jobId);
    return j?.status === 'processed' ? j : null;
  });
  assert.equal(processed.status, 'processed');
  const note = await getNote(db, seeded.dead as string);
  assert.equal(note?.status, 'processed');
});

test('discarding a dead job from the DLQ page removes it', async () => {
  await row('Doomed note').getByRole('checkbox').check();
  await page.getByRole('button', { name: 'Discard', exact: true }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
  await page.getByText('Discarded 1 dead job.').waitFor();
  await page.getByText('No Dead letters found').waitFor();
  const job = await getJob(s.t.deps.database.db, seeded.dead2Job as string);
  assert.equal(job?.status, 'discarded');
  assert.equal(await broker.depth(QUEUES.dead), 0);
});

test("an admin changes a user's role", async () => {
  await page.goto(url('/users'));
  await row('bob@example.test').click();
  await page.waitForURL(new RegExp(`/admin/users/${bob.id}$`));
  await page.getByRole('combobox', { name: 'Role' }).click();
  await page.getByRole('option', { name: 'admin', exact: true }).click();
  await b.screenshot('07-user-edit');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.waitForURL(/\/admin\/users$/);
  await until('bob to be an admin', async () => {
    return (await getUserById(s.t.deps.database.db, bob.id))?.role === 'admin';
  });
  await row('bob@example.test').getByRole('button', { name: 'Make user' }).waitFor();
  // A role change revokes Bob's tokens (docs/security.md); his next sign-in carries the new role.
  const stats = async (token: string) =>
    (await s.t.app.inject({ method: 'GET', url: '/api/admin/stats', headers: bearer(token) })).statusCode;
  assert.equal(await stats(bob.token), 401);
  const current = await getUserById(s.t.deps.database.db, bob.id);
  assert.equal(
    await stats(s.t.app.signToken({ id: bob.id, role: 'admin', tokenVersion: current?.tokenVersion ?? 0 })),
    200,
  );
  await b.screenshot('08-users');
});

test('the audit log lists what was done, by whom', async () => {
  await page.goto(url('/audit'));
  for (const action of ['dlq.promote', 'dlq.discard', 'user.update']) {
    await row(action).first().waitFor();
  }
  assert.equal(await row('user.update').first().getByText(s.admin.email).count(), 1);
  await b.screenshot('09-audit');
  assert.deepEqual(b.errors, [], 'no uncaught errors in the page');
});

test('a list past 10,000 matches says "more than", and pages on with the cursor', async () => {
  // Bob's notes, straight into the table: the console's owner filter counts at most 10,001.
  await s.t.deps.database.pool.query(
    `INSERT INTO notes (id, user_id, title, body, created_at, updated_at)
     SELECT CONCAT('00000000-0000-7000-8000-', LPAD(HEX(seq), 12, '0')), ?, CONCAT('Bulk ', seq), '',
            NOW(3) - INTERVAL seq SECOND, NOW(3) - INTERVAL seq SECOND
     FROM seq_1_to_10050`,
    [bob.id],
  );
  const filter = encodeURIComponent(JSON.stringify({ user: bob.id }));
  await page.goto(url(`/notes?filter=${filter}&order=DESC&page=1&perPage=25&sort=created_at`));
  await textOf(page.getByTestId('total-at-least'), 'More than 10,000 match');
  await page.getByText('1-25 of more than 25').waitFor();
  await row('Bulk 1').first().waitFor();
  await b.screenshot('10-more-than');
  await page.getByRole('button', { name: /next page/i }).click();
  await page.getByText('26-50 of more than 50').waitFor();
  await row('Bulk 26').first().waitFor();
  assert.equal(await row('Bulk 25').count(), 0, 'the second page starts after the first');
  assert.deepEqual(b.errors, [], 'no uncaught errors in the page');
});
