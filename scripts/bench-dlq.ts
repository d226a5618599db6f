import { parseArgs } from 'node:util';
import { FailureInbox } from '@notes/api/modules/dlq/failure-inbox.ts';
import { countLetters } from '@notes/api/modules/dlq/failure-inbox-repository.ts';
import { createDatabase, migrateDatabase } from '@notes/api/platform/db/client.ts';
import { assertTopologyOf, QUEUES } from '@notes/contracts';
import { createTestNamespace } from '@notes/contracts/testing';
import amqp from 'amqplib';

/**
 * npm run bench:dlq -- [--dead N] [--chosen N] [--json]
 *
 * Selective operations cost the selection, not the backlog (docs/jobs.md): fills the failure
 * inbox of a scratch namespace (database and RabbitMQ vhost of its own, removed afterwards) with
 * N dead jobs (default 100,000) and times promoting N chosen ones (default 100), discarding
 * another N chosen, and a dry run by filter, with the process's memory before and after.
 */

const { values } = parseArgs({
  options: {
    dead: { type: 'string', default: '100000' },
    chosen: { type: 'string', default: '100' },
    json: { type: 'boolean', default: false },
  },
});
const DEAD = Number(values.dead);
const CHOSEN = Number(values.chosen);
const log = (line: string) => process.stderr.write(`${line}\n`);
const mib = () => Math.round((process.memoryUsage().rss / 2 ** 20) * 10) / 10;

async function main() {
  const ns = await createTestNamespace('benchdlq');
  const config = ns.config();
  await migrateDatabase(config);
  const database = createDatabase(config);
  const connection = await amqp.connect(ns.amqpUrl);
  try {
    const ch = await connection.createChannel();
    await assertTopologyOf(ch, config.retryDelaysMs, config.amqp.queueType);
    log(`seeding ${DEAD} dead jobs and their letters…`);
    const seeded = performance.now();
    const conn = await database.pool.getConnection();
    try {
      // MariaDB's sequence engine makes the rows in the server: seconds, not minutes.
      for (let from = 1; from <= DEAD; from += 50_000) {
        const to = Math.min(DEAD, from + 49_999);
        const seq = `seq_${from}_to_${to}`;
        await conn.query(
          `INSERT INTO jobs (id, note_id, user_id, kind, priority, status, note_version, attempts, dead_reason, created_at, updated_at, finished_at)
           SELECT CONCAT('job-', LPAD(seq, 9, '0')), CONCAT('note-', seq), CONCAT('user-', seq % 50), 'webhook.deliver', 'normal', 'dead', 1, 5,
                  CONCAT('max_attempts: WebhookDeliveryError: endpoint answered ', 500 + seq % 4), NOW(3) - INTERVAL 1 DAY, NOW(3), NOW(3)
           FROM ${seq}`,
        );
        await conn.query(
          `INSERT INTO dead_letters (id, job_id, kind, priority, user_id, group_id, error_class, message, reason, malformed, attempt, body, headers, dead_at)
           SELECT CONCAT('dl-', LPAD(seq, 9, '0')), CONCAT('job-', LPAD(seq, 9, '0')), 'webhook.deliver', 'normal', CONCAT('user-', seq % 50),
                  CONCAT('group-', seq % 4), 'WebhookDeliveryError', CONCAT('endpoint answered ', 500 + seq % 4),
                  CONCAT('max_attempts: WebhookDeliveryError: endpoint answered ', 500 + seq % 4), 0, 5,
                  TO_BASE64(CONCAT('{"v":1,"job_id":"job-', LPAD(seq, 9, '0'), '","kind":"webhook.deliver","note_id":"note-', seq,
                    '","note_version":1,"user_id":"user-', seq % 50, '","priority":"normal","webhook_id":"w1","created_at":"2030-01-01T00:00:00.000Z"}')),
                  '{}', NOW(3) - INTERVAL (seq % 1000) MINUTE
           FROM ${seq}`,
        );
      }
    } finally {
      conn.release();
    }
    log(`seeded in ${((performance.now() - seeded) / 1000).toFixed(1)} s; ${await countLetters(database.db)} letters`);
    const inbox = new FailureInbox({
      config,
      database,
      logger: { info() {}, warn() {} },
      connection: () => connection,
    });
    const pick = (offset: number) =>
      Array.from(
        { length: CHOSEN },
        (_, i) => `job-${String(offset + Math.floor((i * DEAD) / CHOSEN / 2) + 1).padStart(9, '0')}`,
      );
    const timed = async <T>(what: string, fn: () => Promise<T>) => {
      const before = mib();
      const t0 = performance.now();
      const result = await fn();
      const ms = Math.round(performance.now() - t0);
      const row = { what, ms, rssBeforeMiB: before, rssAfterMiB: mib(), result };
      log(`${what}: ${ms} ms, RSS ${before} → ${row.rssAfterMiB} MiB`);
      return row;
    };
    const rows = [];
    rows.push(
      await timed(`promote ${CHOSEN} chosen of ${DEAD}`, () =>
        inbox.promote({ jobIds: pick(0) }, { actorId: 'bench' }),
      ),
    );
    rows.push(
      await timed(`discard ${CHOSEN} chosen of ${DEAD}`, () =>
        inbox.discard({ jobIds: pick(1) }, { actorId: 'bench' }),
      ),
    );
    rows.push(
      await timed(`dry run by filter (a quarter of ${DEAD})`, () =>
        inbox.promote({ filter: { reason: 'answered 502' } }, { actorId: 'bench', dryRun: true }),
      ),
    );
    rows.push(await timed('groups', () => inbox.groups()));
    const moved = (await ch.checkQueue(QUEUES.work)).messageCount;
    log(`notes.jobs holds ${moved} promoted copies; inbox ${await countLetters(database.db)} letters`);
    const summary = rows.map(({ result, ...r }) => ({
      ...r,
      matched: (result as { matched?: number }).matched,
      moved: (result as { moved?: number }).moved,
      discarded: (result as { discarded?: number }).discarded,
    }));
    if (values.json) process.stdout.write(`${JSON.stringify({ dead: DEAD, chosen: CHOSEN, rows: summary })}\n`);
    else
      for (const r of summary)
        process.stdout.write(
          `${r.what.padEnd(40)} ${String(r.ms).padStart(6)} ms  RSS ${r.rssBeforeMiB} → ${r.rssAfterMiB} MiB\n`,
        );
  } finally {
    await connection.close().catch(() => {});
    await database.close();
    await ns.cleanup();
  }
}

main().catch((err) => {
  process.stderr.write(`bench:dlq failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
