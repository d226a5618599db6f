import type { PromoteSummary } from '@notes/api/modules/dlq/dlq-service.ts';
import { type Config, ConfigError, connectFirst, loadConfig } from '@notes/contracts';
import { PROMOTE_USAGE, type PromoteArgs, parsePromoteArgs } from './lib/promote-dlq-args.ts';

/**
 * npm run promote-dlq -- [--limit N] [--job ID ...] [--dry-run] [--include-malformed]
 *
 * Moves dead messages from notes.dlq back to work (attempt reset to 1, x-death stripped, jobs
 * back to `queued`), then those in the failure inbox a running API drained notes.dlq into; see
 * api/src/modules/dlq/dlq-service.ts and docs/jobs.md for why a kill at any moment loses no message. Progress goes to stderr, the summary line to stdout.
 * Exit codes: 0 success, 1 failure (a message could not be moved, a service is down, or
 * interrupted), 2 bad usage.
 */

const PROGRESS_EVERY = 100;
const quiet = {
  info() {},
  warn(o: unknown, m?: string) {
    process.stderr.write(`warning: ${m ?? ''} ${JSON.stringify(o)}\n`);
  },
};
const PROGRESS_INTERVAL_MS = 1000;

const counts = (s: PromoteSummary) =>
  `examined=${s.examined} promoted=${s.promoted} skipped=${s.skipped} malformed=${s.malformed} failed=${s.failed}`;

async function run(args: PromoteArgs, config: Config): Promise<number> {
  // Loaded here, not at the top, so a usage error or --help answers at once.
  const { createDatabase } = await import('@notes/api/platform/db/client.ts');
  const { promoteDlq } = await import('@notes/api/modules/dlq/dlq-service.ts');
  const { FailureInbox } = await import('@notes/api/modules/dlq/failure-inbox.ts');
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    // A second signal means now: unacked messages go back to the DLQ when the connection drops.
    if (signals > 1) process.exit(1);
    process.stderr.write(`${signal}: stopping after the current message (again to quit at once)\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const database = createDatabase(config);
  let lastLine = Date.now();
  process.stderr.write(
    `promote-dlq: reading notes.dlq${args.dryRun ? ' (dry run: nothing moves)' : ''}` +
      `${args.jobIds ? ` for ${args.jobIds.length} job(s)` : ''}${args.limit ? `, at most ${args.limit}` : ''}\n`,
  );
  try {
    const summary = await promoteDlq({
      amqpUrl: config.amqp.urls,
      database,
      config,
      dryRun: args.dryRun,
      includeMalformed: args.includeMalformed,
      signal: controller.signal,
      ...(args.limit !== undefined ? { limit: args.limit } : {}),
      ...(args.jobIds ? { jobIds: args.jobIds } : {}),
      onProgress: ({ jobId, outcome, error, summary: s }) => {
        if (outcome === 'failed') process.stderr.write(`failed: job ${jobId ?? '(no id)'}: ${error}\n`);
        if (s.examined === 1 || s.examined % PROGRESS_EVERY === 0 || Date.now() - lastLine >= PROGRESS_INTERVAL_MS) {
          lastLine = Date.now();
          process.stderr.write(`progress: ${counts(s)}\n`);
        }
      },
    });
    // Then the failure inbox: where a running API has drained notes.dlq to (docs/jobs.md).
    const left = args.limit !== undefined ? args.limit - summary.promoted : undefined;
    if (!controller.signal.aborted && (left === undefined || left > 0)) {
      const connection = await connectFirst(config.amqp.urls, { timeout: 5000 });
      connection.on('error', () => {});
      try {
        const inbox = new FailureInbox({ config, database, logger: quiet, connection: () => connection });
        const moved = new Set(summary.promotedJobIds);
        const wanted = args.jobIds?.filter((id) => !moved.has(id));
        if (!wanted || wanted.length > 0) {
          const r = await inbox.promote(wanted ? { jobIds: wanted } : { all: true }, {
            actorId: 'cli:promote-dlq',
            dryRun: args.dryRun,
            includeMalformed: args.includeMalformed,
            signal: controller.signal,
            ...(left !== undefined ? { limit: left } : {}),
            onProgress: (done, matched) => process.stderr.write(`progress: failure inbox ${done}/${matched}\n`),
          });
          summary.examined += r.matched;
          summary.promoted += args.dryRun ? r.matched : r.moved;
          summary.failed += r.failed;
        }
      } finally {
        await connection.close().catch(() => {});
      }
    }
    const interrupted = controller.signal.aborted;
    process.stdout.write(
      `summary: ${counts(summary)} dry_run=${summary.dryRun}${interrupted ? ' interrupted=true' : ''}\n`,
    );
    return summary.failed > 0 || interrupted ? 1 : 0;
  } finally {
    await database.close();
  }
}

async function main(): Promise<number> {
  let args: PromoteArgs;
  try {
    args = parsePromoteArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`promote-dlq: ${(err as Error).message}\n\n${PROMOTE_USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${PROMOTE_USAGE}\n`);
    return 0;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`promote-dlq: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  try {
    return await run(args, config);
  } catch (err) {
    process.stderr.write(`promote-dlq failed: ${(err as Error).message}\n`);
    process.stderr.write('Is RabbitMQ (AMQP_URL) and MariaDB (DATABASE_URL) running? See scripts/services.sh.\n');
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`promote-dlq failed: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
