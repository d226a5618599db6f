import { userInfo } from 'node:os';
import { type Config, ConfigError, type JobKind, loadConfig } from '@notes/contracts';
import { JOBS_USAGE, type JobsArgs, parseJobsArgs, type Selection } from './lib/jobs-args.ts';
import { createReporter } from './lib/jobs-output.ts';

/**
 * npm run jobs -- <list|show|retry|promote|discard|pause|resume|stats> [options]
 *
 * The operator's command (docs/jobs.md, "CLI"): the same services as the admin API, run against
 * the database and RabbitMQ from the environment, every change audited as `cli:<login>`.
 * Exit codes: 0 done, 1 failed (a service down, not found, something not moved), 2 bad usage.
 */

class NotFound extends Error {
  override name = 'NotFound';
}

async function run(args: JobsArgs, config: Config): Promise<number> {
  // Loaded here, not at the top, so a usage error or --help answers at once.
  const { createDatabase } = await import('@notes/api/platform/db/client.ts');
  const { FailureInbox } = await import('@notes/api/modules/dlq/failure-inbox.ts');
  const { JobOperations } = await import('@notes/api/modules/jobs/job-operations.ts');
  const { recentJobs, jobCountsByStatus } = await import('@notes/api/modules/jobs/operations-repository.ts');
  const { countLetters } = await import('@notes/api/modules/dlq/failure-inbox-repository.ts');
  const amqp = (await import('amqplib')).default;

  const out = createReporter(args.json);
  const actorId = `cli:${safeLogin()}`.slice(0, 36);
  const logger = {
    info: () => {},
    warn: (o: unknown, m?: string) => out.note(`warning: ${m ?? ''} ${JSON.stringify(o)}`),
  };
  const database = createDatabase(config);
  let connection: Awaited<ReturnType<typeof amqp.connect>> | null = null;
  const broker = async () => {
    connection ??= await amqp.connect(config.amqp.url, { timeout: 5000 });
    connection.on('error', () => {});
    return connection;
  };
  const controller = new AbortController();
  process.once('SIGINT', () => {
    out.note('SIGINT: stopping after the current page');
    controller.abort();
  });
  const operations = new JobOperations({ config, database, logger, connection: () => connection });
  try {
    switch (args.command) {
      case 'list': {
        const rows = await recentJobs(database.db, {
          limit: args.limit ?? 25,
          ...(args.status ? { status: args.status } : {}),
          ...(args.kind ? { kind: args.kind } : {}),
          ...(args.user ? { userId: args.user } : {}),
          ...(args.note ? { noteId: args.note } : {}),
        });
        out.table(
          rows.map((j) => ({
            id: j.id,
            kind: j.kind,
            status: j.status,
            priority: j.priority,
            attempts: j.attempts,
            created_at: j.createdAt.toISOString(),
            last_error: j.lastError,
          })),
          ['id', 'kind', 'status', 'priority', 'attempts', 'created_at', 'last_error'],
        );
        return 0;
      }
      case 'show': {
        const detail = await operations.detail(args.target!).catch(notFound);
        out.job(detail);
        return 0;
      }
      case 'retry': {
        await broker();
        const res = await operations.retryNow(actorId, args.target!).catch(notFound);
        out.result(res, `job ${res.id} retried now: ${res.status}`);
        return 0;
      }
      case 'pause':
      case 'resume': {
        const row = await operations.setPaused(actorId, args.target as JobKind, args.command === 'pause');
        out.result(row, `${row.kind}: ${row.paused ? 'paused' : 'running'} (consumers follow within about 2 s)`);
        return 0;
      }
      case 'stats': {
        const inbox = new FailureInbox({ config, database, logger, connection: () => connection! });
        const [jobs, groups, letters, controls] = await Promise.all([
          jobCountsByStatus(database.db),
          inbox.groups(args.kind),
          countLetters(database.db),
          operations.controls(),
        ]);
        out.stats({ jobs, failure_inbox: { letters, groups: groups.slice(0, args.limit ?? 20) }, control: controls });
        return 0;
      }
      case 'promote':
      case 'discard': {
        const inbox = new FailureInbox({ config, database, logger, connection: () => connection! });
        if (!args.dryRun) await broker();
        const selection = toSelection(args.selection!);
        const progress = out.progress(args.command === 'promote' ? 'promoted' : 'discarded');
        const common = {
          actorId,
          dryRun: args.dryRun,
          signal: controller.signal,
          describe: { via: 'cli', selection: args.selection },
          onProgress: progress.update,
          ...(args.limit !== undefined ? { limit: args.limit } : {}),
        };
        try {
          if (args.command === 'promote') {
            const r = await inbox.promote(selection, { ...common, includeMalformed: args.includeMalformed });
            progress.stop();
            out.result(
              r,
              args.dryRun
                ? `dry run: ${r.matched} would be promoted${listed(r.job_ids, r.matched)}`
                : `promoted ${r.moved} of ${r.matched}${r.failed ? `, ${r.failed} not moved (still in the inbox)` : ''}`,
            );
            return r.failed > 0 || controller.signal.aborted ? 1 : 0;
          }
          const r = await inbox.discard(selection, { ...common, ...(args.why ? { reason: args.why } : {}) });
          progress.stop();
          out.result(
            r,
            args.dryRun
              ? `dry run: ${r.matched} would be discarded${listed(r.job_ids, r.matched)}`
              : `discarded ${r.discarded} of ${r.matched}`,
          );
          return controller.signal.aborted ? 1 : 0;
        } finally {
          progress.stop();
        }
      }
      default:
        return 2;
    }
  } catch (err) {
    if (err instanceof NotFound) {
      out.error(err.message);
      return 1;
    }
    throw err;
  } finally {
    await (connection as { close(): Promise<void> } | null)?.close().catch(() => {});
    await database.close();
  }
}

function notFound(err: unknown): never {
  const e = err as { statusCode?: number; detail?: string; message?: string };
  if (e.statusCode === 404 || e.statusCode === 409) throw new NotFound(e.detail ?? e.message ?? 'not found');
  throw err;
}

function toSelection(s: Selection) {
  if ('groupId' in s) return { groupId: s.groupId };
  if ('jobIds' in s) return { jobIds: s.jobIds };
  if ('all' in s) return { all: true as const };
  return { filter: s.filter };
}

function listed(ids: readonly string[], matched: number): string {
  if (ids.length === 0) return '';
  return `:\n  ${ids.join('\n  ')}${matched > ids.length ? `\n  … and ${matched - ids.length} more` : ''}`;
}

function safeLogin(): string {
  try {
    return userInfo().username || 'operator';
  } catch {
    return 'operator';
  }
}

async function main(): Promise<number> {
  let args: JobsArgs;
  try {
    args = parseJobsArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`jobs: ${(err as Error).message}\n\n${JOBS_USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${JOBS_USAGE}\n`);
    return 0;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`jobs: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  try {
    return await run(args, config);
  } catch (err) {
    process.stderr.write(`jobs ${args.command} failed: ${(err as Error).message}\n`);
    process.stderr.write('Are MariaDB (DATABASE_URL) and RabbitMQ (AMQP_URL) running? See scripts/services.sh.\n');
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`jobs failed: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
