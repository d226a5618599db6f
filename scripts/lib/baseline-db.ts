import { performance } from 'node:perf_hooks';
import { migrateDatabase } from '@notes/api/platform/db/client.ts';
import type { Config } from '@notes/contracts';
import mysql from 'mysql2/promise';
import { uuidv7 } from 'uuidv7';
import { type LatencySummary, Samples } from './stats.ts';
import { NoteFactory } from './workload.ts';

/**
 * Baseline (a): raw MariaDB, the floor under an accepted write. N connections each run, back to
 * back, one transaction inserting a note row and its outbox row, with server-side prepared
 * statements (mysql2 `execute`). The tables are the product's own (its committed migrations, in
 * a scratch database), so indexes and row sizes match what the API writes.
 */
export interface DbBaseline {
  connections: number;
  txPerS: number;
  txLatencyMs: LatencySummary;
}

const INSERT_NOTE =
  'INSERT INTO notes (id, user_id, title, body, priority, status, version, attempts, created_at, updated_at) ' +
  "VALUES (?, ?, ?, ?, ?, 'queued', 1, 0, ?, ?)";
const INSERT_OUTBOX = 'INSERT INTO outbox (job_id, payload, priority, created_at) VALUES (?, ?, ?, ?)';

export async function prepareDbBaseline(config: Config): Promise<void> {
  await migrateDatabase(config);
}

export async function runDbBaseline(config: Config, connections: number, seconds: number): Promise<DbBaseline> {
  const pool = mysql.createPool({ uri: config.database.url, connectionLimit: connections, timezone: 'Z' });
  const factory = new NoteFactory(`db${connections}`);
  const latency = new Samples();
  const users = Array.from({ length: 64 }, () => uuidv7());
  let done = 0;
  try {
    const conns = await Promise.all(Array.from({ length: connections }, () => pool.getConnection()));
    const start = performance.now();
    const end = start + seconds * 1000;
    await Promise.all(
      conns.map(async (conn, w) => {
        try {
          while (performance.now() < end) {
            const note = factory.next();
            const noteId = uuidv7();
            const jobId = uuidv7();
            const now = new Date();
            const userId = users[w % users.length] as string;
            const payload = JSON.stringify({
              v: 1,
              job_id: jobId,
              kind: 'note.process',
              note_id: noteId,
              note_version: 1,
              user_id: userId,
              priority: note.priority,
              created_at: now.toISOString(),
            });
            const t0 = performance.now();
            await conn.beginTransaction();
            await conn.execute(INSERT_NOTE, [noteId, userId, note.title, note.body, note.priority, now, now]);
            await conn.execute(INSERT_OUTBOX, [jobId, payload, note.priority, now]);
            await conn.commit();
            latency.add(performance.now() - t0);
            done++;
          }
        } finally {
          conn.release();
        }
      }),
    );
    const elapsed = (performance.now() - start) / 1000;
    return { connections, txPerS: done / elapsed, txLatencyMs: latency.summary() };
  } finally {
    await pool.end();
  }
}
