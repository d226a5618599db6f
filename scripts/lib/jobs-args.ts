import { parseArgs } from 'node:util';
import { JOB_KINDS, type JobKind } from '@notes/contracts';

/** Command-line parsing for `npm run jobs`, apart from the command so tests can call it. */

export const COMMANDS = ['list', 'show', 'retry', 'promote', 'discard', 'pause', 'resume', 'stats'] as const;
export type Command = (typeof COMMANDS)[number];

const STATUSES = ['queued', 'processing', 'processed', 'failed', 'dead', 'discarded', 'skipped'] as const;

export const JOBS_USAGE = `usage: npm run jobs -- <command> [options]

commands:
  list                   the newest jobs: [--status S] [--kind K] [--user ID] [--note ID] [--limit N]
  show JOB_ID            one job with its message and its attempts
  retry JOB_ID           run a job waiting out its backoff now
  promote SELECTION      move dead jobs from the failure inbox back to work
  discard SELECTION      drop dead jobs for good (needs --yes) [--why TEXT: kept as their reason]
  pause KIND             stop consuming a job kind (${JOB_KINDS.join(', ')}); work waits in RabbitMQ
  resume KIND            consume it again
  stats                  job counts by status, the failure inbox by group, paused kinds

selection (promote, discard), one of:
  --group ID             a failure group (see stats, or the console's failure inbox)
  --job ID               these jobs (repeatable)
  --all                  every dead job in the inbox (needs --yes)
  filters                --kind K, --reason TEXT (substring), --user ID, --older-than-hours H

options:
  --dry-run              list what would change; change nothing
  --yes                  confirm a destructive action (discard, promote --all)
  --limit N              act on (or list) at most N
  --include-malformed    promote also messages dead-lettered as malformed
  --json                 one JSON object on stdout
  -h, --help             show this help

A terminal gets a progress bar on stderr; a pipe gets plain progress lines.
Exit codes: 0 done, 1 failed (a service down, not found, something not moved), 2 bad usage.
Configuration comes from the environment (DATABASE_URL, AMQP_URL, ...), as for the API.`;

export class UsageError extends Error {
  override name = 'UsageError';
}

export type Selection =
  | { groupId: string }
  | { jobIds: string[] }
  | { filter: { kind?: string; reason?: string; user_id?: string; older_than_hours?: number } }
  | { all: true };

export interface JobsArgs {
  command: Command | null;
  target?: string;
  selection?: Selection;
  status?: (typeof STATUSES)[number];
  kind?: JobKind;
  user?: string;
  note?: string;
  why?: string;
  limit?: number;
  dryRun: boolean;
  yes: boolean;
  json: boolean;
  includeMalformed: boolean;
  help: boolean;
}

const OPTIONS = {
  status: { type: 'string' },
  kind: { type: 'string' },
  user: { type: 'string' },
  note: { type: 'string' },
  group: { type: 'string' },
  job: { type: 'string', multiple: true },
  all: { type: 'boolean', default: false },
  reason: { type: 'string' },
  why: { type: 'string' },
  'older-than-hours': { type: 'string' },
  limit: { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
  yes: { type: 'boolean', short: 'y', default: false },
  json: { type: 'boolean', default: false },
  'include-malformed': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

const ID = /^[\w.:-]{1,64}$/;

function count(name: string, raw: string | undefined, min: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < min) {
    throw new UsageError(`--${name} must be a whole number of at least ${min}, not "${raw}"`);
  }
  return Number(raw);
}

function id(name: string, raw: string | undefined): string | undefined {
  if (raw !== undefined && !ID.test(raw)) throw new UsageError(`${name} "${raw}" is not an id`);
  return raw;
}

/** Throws UsageError on an unknown command or flag, a missing argument or a bad value. */
export function parseJobsArgs(argv: string[]): JobsArgs {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values: v, positionals } = parsed;
  const base: JobsArgs = {
    command: null,
    dryRun: v['dry-run'] ?? false,
    yes: v.yes ?? false,
    json: v.json ?? false,
    includeMalformed: v['include-malformed'] ?? false,
    help: v.help ?? false,
  };
  if (base.help && positionals.length === 0) return base;
  const [command, ...rest] = positionals;
  if (!command) throw new UsageError('a command is missing');
  if (!(COMMANDS as readonly string[]).includes(command)) throw new UsageError(`unknown command "${command}"`);
  const args: JobsArgs = { ...base, command: command as Command };
  const wantsTarget = ['show', 'retry', 'pause', 'resume'].includes(command);
  if (wantsTarget && rest.length !== 1) throw new UsageError(`${command} takes exactly one argument`);
  if (!wantsTarget && rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);

  if (v.status !== undefined && !(STATUSES as readonly string[]).includes(v.status)) {
    throw new UsageError(`--status must be one of ${STATUSES.join(', ')}`);
  }
  if (v.kind !== undefined && !(JOB_KINDS as readonly string[]).includes(v.kind)) {
    throw new UsageError(`--kind must be one of ${JOB_KINDS.join(', ')}`);
  }
  const limit = count('limit', v.limit, 1);
  const older = count('older-than-hours', v['older-than-hours'], 0);
  for (const j of v.job ?? []) id('--job', j);
  Object.assign(args, {
    ...(v.status ? { status: v.status } : {}),
    ...(v.kind ? { kind: v.kind } : {}),
    ...(id('--user', v.user) ? { user: v.user } : {}),
    ...(id('--note', v.note) ? { note: v.note } : {}),
    ...(v.why ? { why: v.why.slice(0, 500) } : {}),
    ...(limit !== undefined ? { limit } : {}),
  });

  if (wantsTarget) {
    const target = rest[0] as string;
    if (command === 'pause' || command === 'resume') {
      if (!(JOB_KINDS as readonly string[]).includes(target)) {
        throw new UsageError(`${command} takes a job kind: ${JOB_KINDS.join(', ')}`);
      }
    } else id('the job id', target);
    args.target = target;
  }

  if (command === 'promote' || command === 'discard') {
    const filter = {
      ...(v.kind ? { kind: v.kind } : {}),
      ...(v.reason ? { reason: v.reason.slice(0, 200) } : {}),
      ...(v.user ? { user_id: v.user } : {}),
      ...(older !== undefined ? { older_than_hours: older } : {}),
    };
    const ways: Selection[] = [];
    if (v.group !== undefined) ways.push({ groupId: v.group });
    if (v.job) ways.push({ jobIds: [...v.job] });
    if (v.all) ways.push({ all: true });
    if (Object.keys(filter).length > 0) ways.push({ filter });
    if (ways.length !== 1) {
      throw new UsageError(
        ways.length === 0
          ? `${command} needs a selection: --group, --job, --all or filters`
          : 'choose one way of selecting: --group, --job, --all or filters',
      );
    }
    args.selection = ways[0];
    const destructive = command === 'discard' || 'all' in (ways[0] as object);
    if (destructive && !args.dryRun && !args.yes) {
      throw new UsageError(
        `${command}${'all' in (ways[0] as object) ? ' --all' : ''} changes jobs for good: add --yes (or --dry-run to see what it would do)`,
      );
    }
  }
  return args;
}
