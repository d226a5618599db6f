import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createDatabase } from '@notes/api/platform/db/client.ts';
import { pruneJobs } from '@notes/api/workers/maintenance.ts';
import { FINISHED_STATUSES } from '@notes/api/workers/retention-repository.ts';
import { generateServiceKeyPair, loadConfig } from '@notes/contracts';
import mysql from 'mysql2/promise';
import { startProduct } from './lib/product.ts';

/**
 * npm run bench:retention -- [--backlog N] [--rate N] [--duration S] [--json]
 *
 * Does pruning stall writes (docs/jobs.md, "Retention")? Starts the product in a namespace of its
 * own, puts N finished jobs (default 1,000,000, each with an attempt) ten days in the past, then
 * runs `npm run bench -- --mode steady --rate 500` against it twice: once without pruning, once
 * while the maintenance pass (the product's own code, with JOB_RETENTION_HOURS=168) works the
 * backlog off. Prints accept latency p50/p99 of both runs and how many jobs were pruned meanwhile.
 */

const { values } = parseArgs({
  options: {
    backlog: { type: 'string', default: '1000000' },
    rate: { type: 'string', default: '500' },
    duration: { type: 'string', default: '20' },
    json: { type: 'boolean', default: false },
  },
});
const BACKLOG = Number(values.backlog);
const BENCH = fileURLToPath(new URL('./bench.ts', import.meta.url));
const log = (line: string) => process.stderr.write(`${line}\n`);

interface Run {
  p50: number;
  p99: number;
  accepted: number;
  errors: Record<string, number>;
}

async function bench(url: string): Promise<Run> {
  const args = ['--import', 'tsx', BENCH, '--url', url, '--mode', 'steady', '--rate', String(values.rate)];
  args.push('--duration', String(values.duration), '--skip-baseline', '--json');
  const child = spawn(process.execPath, args, {
    cwd: fileURLToPath(new URL('.', import.meta.url)),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`bench exited ${code}`);
  const result = JSON.parse(out.slice(out.indexOf('{')));
  // The bench's JSON lists every run; driving a running product (--url) is one run of ours.
  const p = result.runs[0].product;
  return { p50: p.acceptLatencyMs.p50, p99: p.acceptLatencyMs.p99, accepted: p.accepted, errors: p.errors };
}

async function seed(databaseUrl: string): Promise<void> {
  const conn = await mysql.createConnection({ uri: databaseUrl });
  try {
    const t0 = performance.now();
    // MariaDB's sequence engine makes the rows in the server.
    for (let from = 1; from <= BACKLOG; from += 100_000) {
      const seq = `seq_${from}_to_${Math.min(BACKLOG, from + 99_999)}`;
      await conn.query(
        `INSERT INTO jobs (id, note_id, user_id, kind, priority, status, note_version, attempts, created_at, updated_at, finished_at)
         SELECT CONCAT('old-', LPAD(seq, 9, '0')), CONCAT('old-note-', seq), 'old-user', 'note.process', 'normal', 'processed', 1, 1,
                NOW(3) - INTERVAL 10 DAY, NOW(3) - INTERVAL 10 DAY, NOW(3) - INTERVAL 10 DAY
         FROM ${seq}`,
      );
      await conn.query(
        `INSERT INTO job_attempts (job_id, number, finished_at, outcome, duration_ms)
         SELECT CONCAT('old-', LPAD(seq, 9, '0')), 1, NOW(3) - INTERVAL 10 DAY, 'processed', 5 FROM ${seq}`,
      );
      log(
        `seeded ${Math.min(BACKLOG, from + 99_999)} finished jobs (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
      );
    }
  } finally {
    await conn.end();
  }
}

async function main() {
  // The product's own maintenance keeps everything: only this script's passes prune.
  const keys = generateServiceKeyPair();
  const product = await startProduct({
    consumers: 1,
    env: { JOB_RETENTION_HOURS: '87600', SERVICE_PRIVATE_KEY: keys.privateKey, SERVICE_PUBLIC_KEYS: keys.publicKey },
    log,
  });
  try {
    const databaseUrl = product.databaseUrl as string;
    await seed(databaseUrl);
    log('run 1: no pruning');
    const quiet = await bench(product.url);

    const config = loadConfig({ DATABASE_URL: databaseUrl, JOB_RETENTION_HOURS: '168', DB_POOL_SIZE: '2' });
    const database = createDatabase(config);
    let pruned = 0;
    let stop = false;
    const t0 = performance.now();
    // The maintenance pass's own loop (maintenance.ts pruneJobs: batches of RETENTION_BATCH, a
    // pause between them, READ COMMITTED, the retention's counter shard), counted batch by batch
    // and not capped per pass.
    const conn = await database.pool.getConnection();
    const cutoff = new Date(Date.now() - config.jobRetentionHours * 3_600_000);
    const pruning = pruneJobs(conn, database.writer, FINISHED_STATUSES, cutoff, {
      maxBatches: Number.POSITIVE_INFINITY,
      stop: () => stop,
      onBatch: (n) => (pruned += n),
    });
    log('run 2: while the backlog is pruned');
    const busy = await bench(product.url);
    const prunedDuringRun = pruned;
    const seconds = (performance.now() - t0) / 1000;
    stop = true;
    await pruning;
    conn.release();
    await database.close();
    const report = {
      backlog: BACKLOG,
      rate: Number(values.rate),
      withoutPruning: quiet,
      whilePruning: busy,
      prunedDuringRun,
      pruneRatePerS: Math.round(prunedDuringRun / seconds),
    };
    if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else {
      process.stdout.write(
        `accept p50/p99 without pruning: ${quiet.p50.toFixed(1)} / ${quiet.p99.toFixed(1)} ms (${quiet.accepted} accepted)\n` +
          `accept p50/p99 while pruning:   ${busy.p50.toFixed(1)} / ${busy.p99.toFixed(1)} ms (${busy.accepted} accepted)\n` +
          `pruned ${prunedDuringRun} of ${BACKLOG} finished jobs during the run (${report.pruneRatePerS}/s)\n`,
      );
    }
  } finally {
    await product.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`bench:retention failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
