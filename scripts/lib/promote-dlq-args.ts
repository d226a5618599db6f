import { parseArgs } from 'node:util';

/** Command-line parsing for promote-dlq, apart from the command so tests can call it. */

export const PROMOTE_USAGE = `usage: npm run promote-dlq -- [--limit N] [--job ID ...] [--dry-run] [--include-malformed]

  --limit N             move at most N messages
  --job ID              move only this job's message (repeatable)
  --dry-run             count what would move; move nothing
  --include-malformed   also move messages dead-lettered as malformed
  -h, --help            show this help

Configuration comes from the environment (AMQP_URL, DATABASE_URL, ...), as for the API.`;

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface PromoteArgs {
  limit?: number;
  jobIds?: string[];
  dryRun: boolean;
  includeMalformed: boolean;
  help: boolean;
}

const OPTIONS = {
  limit: { type: 'string' },
  job: { type: 'string', multiple: true },
  'dry-run': { type: 'boolean', default: false },
  'include-malformed': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** Throws UsageError on an unknown flag, a positional argument or a bad value. */
export function parsePromoteArgs(argv: string[]): PromoteArgs {
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  let limit: number | undefined;
  if (values.limit !== undefined) {
    if (!/^\d{1,9}$/.test(values.limit) || Number(values.limit) < 1) {
      throw new UsageError(`--limit must be a whole number of at least 1, not "${values.limit}"`);
    }
    limit = Number(values.limit);
  }
  for (const id of values.job ?? []) {
    if (!/^[\w.:-]{1,64}$/.test(id)) throw new UsageError(`--job "${id}" is not a job id`);
  }
  return {
    ...(limit !== undefined ? { limit } : {}),
    ...(values.job ? { jobIds: [...values.job] } : {}),
    dryRun: values['dry-run'] ?? false,
    includeMalformed: values['include-malformed'] ?? false,
    help: values.help ?? false,
  };
}
