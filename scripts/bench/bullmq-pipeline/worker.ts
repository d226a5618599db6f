/**
 * The comparator's worker (server.ts says what the comparator is): a BullMQ Worker that reads
 * the note, runs the consumers' own analysis on it (the same code, so the work per note is
 * equal) and updates the row to `processed` with its result. Two autocommit statements per job;
 * no `processing` state, no callbacks, no live events. After its last attempt a job marks its
 * note `dead`.
 */
import { analyse } from '@notes/consumers/analysis.ts';
import { type Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { JOB_ATTEMPTS, QUEUE_NAME, readSettings } from './settings.ts';

const settings = readSettings();
const pool = mysql.createPool({ uri: settings.databaseUrl, connectionLimit: settings.dbPoolSize, timezone: 'Z' });

async function processNote(job: Job<{ noteId: string }>): Promise<void> {
  const { noteId } = job.data;
  const [rows] = await pool.execute<RowDataPacket[]>('SELECT body FROM notes WHERE id = ?', [noteId]);
  const body = rows[0]?.body as string | undefined;
  // A note deleted since it was queued has nothing left to process.
  if (body === undefined) return;
  const result = analyse(body);
  const now = new Date();
  await pool.execute(
    "UPDATE notes SET status = 'processed', result = ?, attempts = attempts + 1, processed_at = ?, updated_at = ? " +
      'WHERE id = ?',
    [JSON.stringify(result), now, now, noteId],
  );
}

const worker = new Worker(QUEUE_NAME, processNote, {
  connection: new Redis(settings.redisUrl, { maxRetriesPerRequest: null }),
  prefix: settings.prefix,
  concurrency: settings.concurrency,
});

worker.on('failed', (job, err) => {
  if (!job || job.attemptsMade < JOB_ATTEMPTS) return;
  const now = new Date();
  pool
    .execute("UPDATE notes SET status = 'dead', last_error = ?, attempts = ?, updated_at = ? WHERE id = ?", [
      String(err?.message ?? err).slice(0, 1000),
      job.attemptsMade,
      now,
      job.data.noteId,
    ])
    .catch((e: unknown) => process.stderr.write(`marking ${job.data.noteId} dead failed: ${e}\n`));
});
worker.on('error', (err) => process.stderr.write(`worker error: ${err.message}\n`));

async function shutdown(): Promise<void> {
  await worker.close();
  await pool.end();
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown());
process.once('SIGINT', () => void shutdown());

await worker.waitUntilReady();
process.stdout.write('worker ready\n');
