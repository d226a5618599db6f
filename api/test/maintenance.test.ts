import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestNamespace, type TestNamespace } from '@notes/contracts/testing';
import { count } from 'drizzle-orm';
import pino from 'pino';
import { createDatabase, type Database, migrateDatabase } from '../src/platform/db/client.ts';
import { idempotencyFences, outbox, processedMessages } from '../src/platform/db/schema.ts';
import { type MaintenanceDeps, runMaintenanceOnce, startMaintenance } from '../src/workers/maintenance.ts';
import { clearTable, insertRows } from './db-fixtures.ts';

let ns: TestNamespace;
let database: Database;
let deps: MaintenanceDeps;
const HOUR = 3_600_000;
const now = new Date('2030-06-01T12:00:00.000Z');
const ago = (ms: number) => new Date(now.getTime() - ms);

before(async () => {
  ns = await createTestNamespace('maint');
  const config = ns.config({ RETENTION_HOURS: '48' });
  await migrateDatabase(config);
  database = createDatabase(config);
  deps = { config, database, logger: pino({ level: 'silent' }) };
});
after(async () => {
  await database?.close();
  await ns?.cleanup();
});

async function seed() {
  for (const table of [outbox, idempotencyFences, processedMessages]) await clearTable(database, table);
  const row = (jobId: string, createdAt: Date, sentAt: Date | null) => ({
    jobId,
    payload: '{}',
    priority: 'normal' as const,
    createdAt,
    sentAt,
  });
  await insertRows(
    database,
    outbox,
    row('sent-old', ago(50 * HOUR), ago(49 * HOUR)),
    row('sent-recent', ago(2 * HOUR), ago(1 * HOUR)),
    row('unsent-old', ago(100 * HOUR), null), // never sent: must never be deleted
  );
  const fence = (keyHash: string, expiresAt: Date) => ({
    userId: 'u1',
    keyHash,
    fingerprint: 'f',
    responseStatus: 201,
    createdAt: ago(25 * HOUR),
    expiresAt,
  });
  await insertRows(
    database,
    idempotencyFences,
    fence('expired', ago(1000)),
    fence('live', new Date(now.getTime() + HOUR)),
  );
  // 2,500 old keys: more than two batches, so the batch loop has to go round.
  const old = Array.from({ length: 2500 }, (_, i) => ({ messageKey: `old-${i}`, createdAt: ago(49 * HOUR) }));
  for (let i = 0; i < old.length; i += 500) await insertRows(database, processedMessages, ...old.slice(i, i + 500));
  await insertRows(database, processedMessages, { messageKey: 'recent', createdAt: ago(47 * HOUR) });
}

async function remaining() {
  const db = database.db;
  const [o, f, p] = await Promise.all([
    db.select({ jobId: outbox.jobId }).from(outbox).orderBy(outbox.jobId),
    db.select({ keyHash: idempotencyFences.keyHash }).from(idempotencyFences),
    db.select({ n: count() }).from(processedMessages),
  ]);
  return { outbox: o.map((r) => r.jobId), fences: f.map((r) => r.keyHash), processed: Number(p[0]?.n) };
}

test('deletes only sent outbox rows and processed keys past retention, and expired fences', async () => {
  await seed();
  const result = await runMaintenanceOnce(deps, now);
  assert.deepEqual(result, {
    ran: true,
    outbox: 1,
    fences: 1,
    processedMessages: 2500,
    finishedJobs: 0,
    deadJobs: 0,
    deadLetters: 0,
  });
  assert.deepEqual(await remaining(), { outbox: ['sent-recent', 'unsent-old'], fences: ['live'], processed: 1 });
  // A second pass finds nothing more.
  assert.deepEqual(await runMaintenanceOnce(deps, now), {
    ran: true,
    outbox: 0,
    fences: 0,
    processedMessages: 0,
    finishedJobs: 0,
    deadJobs: 0,
    deadLetters: 0,
  });
});

test('with another instance holding the lock, a pass skips and deletes nothing', async () => {
  await seed();
  const other = await database.pool.getConnection();
  try {
    const [rows] = await other.query('SELECT GET_LOCK(?, 0) AS got', [
      `notes_maintenance:${deps.config.database.name}`,
    ]);
    assert.equal((rows as { got: number }[])[0]?.got, 1);
    assert.deepEqual(await runMaintenanceOnce(deps, now), {
      ran: false,
      outbox: 0,
      fences: 0,
      processedMessages: 0,
      finishedJobs: 0,
      deadJobs: 0,
      deadLetters: 0,
    });
    assert.equal((await remaining()).processed, 2501);
  } finally {
    await other.query('SELECT RELEASE_LOCK(?)', [`notes_maintenance:${deps.config.database.name}`]);
    other.release();
  }
  assert.equal((await runMaintenanceOnce(deps, now)).ran, true);
});

test('the timer runs passes until stopped', async () => {
  await seed();
  // Real time here: rows dated in 2030 are not old yet, so add one that is.
  await insertRows(database, processedMessages, {
    messageKey: 'really-old',
    createdAt: new Date(Date.now() - 72 * HOUR),
  });
  const timer = startMaintenance(deps, { intervalMs: 50 });
  try {
    for (let i = 0; i < 100 && (await remaining()).processed !== 2501; i++) await sleep(20);
    assert.equal((await remaining()).processed, 2501, 'the old key was deleted by the timer');
  } finally {
    await timer.stop();
    await timer.stop(); // idempotent
  }
});
