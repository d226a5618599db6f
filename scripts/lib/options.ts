import { type ParseArgsConfig, parseArgs } from 'node:util';
import { assertLoopback } from './api-client.ts';
import type { LoadMode } from './load.ts';

/**
 * Command-line options of `npm run bench` and `npm run soak` (node:util parseArgs). The bench's
 * settings come only from flags: it reads no environment of its own.
 */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Shared by bench and soak: what to drive and how hard. */
export interface LoadFlags {
  /** Use a product already running here instead of starting one (loopback only). */
  url: string | null;
  connections: number;
  users: number;
  /** Consumer processes when the bench starts the product (CONSUMER_PROCESSES). */
  consumers: number;
  /** Extra environment for the product the bench starts (--product-env KEY=VALUE, repeatable). */
  productEnv: Record<string, string>;
  json: boolean;
}

export type PipelineChoice = 'ours' | 'bullmq';

export interface BenchOptions extends LoadFlags {
  /** As given: one mode, or both (burst, then steady at --rate) in each round. */
  mode: LoadMode | 'both';
  modes: LoadMode[];
  /** The pipelines measured: ours and the BullMQ comparator by default, one with --only. */
  pipelines: PipelineChoice[];
  /** Rounds of the alternation; the figures compared are each figure's median over them. */
  rounds: number;
  rate: number;
  durationS: number;
  /** Seconds of the same load before the measured run, left out of every figure. */
  warmupS: number;
  skipBaseline: boolean;
  baselineS: number;
  drainTimeoutS: number;
  /** Write CPU profiles of the API and consumers the bench starts into this directory. */
  cpuProfDir: string | null;
}

export interface SoakOptions extends LoadFlags {
  minutes: number;
  rate: number;
  /** Fraction of accepted notes read back for write→processed latency. */
  sample: number;
}

const COMMON = {
  url: { type: 'string' },
  connections: { type: 'string', default: '64' },
  users: { type: 'string' },
  consumers: { type: 'string', default: '1' },
  'product-env': { type: 'string', multiple: true, default: [] },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

export const BENCH_USAGE = `usage: npm run bench -- [flags]
  --mode burst|steady|both  burst: every connection writes back to back; steady: a fixed offered rate;
                          both (default): a burst, then steady, in every round
  --only ours|bullmq      measure one pipeline alone (default: ours and the BullMQ comparator, alternating)
  --rounds N              rounds of the alternation, figures are medians (default 3; 1 with --only or --url)
  --rate N                steady offered writes/s (default 500)
  --duration S            seconds of load (default 20)
  --warmup S              seconds of the same load first, then a drain, left out of every figure (default 5; 0: none)
  --connections N         concurrent HTTP connections (default 64)
  --users N               users registered and written as (default: --connections)
  --url URL               drive a product already running (loopback only) instead of starting one (ours alone)
  --consumers N           consumer processes of the product the bench starts (default 1)
  --product-env K=V       extra environment for the product the bench starts (repeatable)
  --skip-baseline         skip the raw MariaDB / RabbitMQ baseline
  --baseline-seconds S    seconds per baseline phase (default 3)
  --drain-timeout S       how long to wait for every note to be processed after the load (default 120)
  --cpu-prof DIR          write CPU profiles (.cpuprofile) of the API and consumers the bench starts into DIR
  --json                  print one JSON object instead of the table`;

export const SOAK_USAGE = `usage: npm run soak -- [flags]
  --minutes N             minutes of steady load (default 30)
  --rate N                offered writes/s (default 500)
  --sample F              fraction of notes read back for write→processed latency (default 0.1)
  --connections, --users, --url, --consumers, --product-env, --json   as for npm run bench`;

function int(name: string, value: string | undefined, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return n;
}

function num(name: string, value: string | undefined, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be from ${min} to ${max}`);
  return n;
}

function parse<T extends ParseArgsConfig['options']>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function loadFlags(v: Record<string, unknown>): LoadFlags {
  const connections = int('connections', v.connections as string, 1, 1024);
  const productEnv: Record<string, string> = {};
  for (const pair of v['product-env'] as string[]) {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new UsageError(`--product-env takes KEY=VALUE, got ${pair}`);
    productEnv[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return {
    url: (v.url as string | undefined) ?? null,
    connections,
    users: v.users === undefined ? connections : int('users', v.users as string, 1, 10_000),
    consumers: int('consumers', v.consumers as string, 1, 16),
    productEnv,
    json: v.json as boolean,
  };
}

/** Returns null for --help. */
export function parseBenchArgs(argv: string[]): BenchOptions | null {
  const v = parse(argv, {
    ...COMMON,
    mode: { type: 'string', default: 'both' },
    only: { type: 'string' },
    rounds: { type: 'string' },
    rate: { type: 'string', default: '500' },
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '5' },
    'skip-baseline': { type: 'boolean', default: false },
    'baseline-seconds': { type: 'string', default: '3' },
    'drain-timeout': { type: 'string', default: '120' },
    'cpu-prof': { type: 'string' },
  });
  if (v.help) return null;
  if (v.mode !== 'burst' && v.mode !== 'steady' && v.mode !== 'both')
    throw new UsageError(`--mode must be burst, steady or both, got ${v.mode}`);
  if (v.only !== undefined && v.only !== 'ours' && v.only !== 'bullmq')
    throw new UsageError(`--only must be ours or bullmq, got ${v.only}`);
  const flags = loadFlags(v);
  // A product someone else runs can't be compared: the comparator is started by the bench.
  if (flags.url && v.only === 'bullmq')
    throw new UsageError('--url drives our product; it can not go with --only bullmq');
  const pipelines: PipelineChoice[] = v.only ? [v.only] : flags.url ? ['ours'] : ['ours', 'bullmq'];
  return {
    ...flags,
    mode: v.mode,
    modes: v.mode === 'both' ? ['burst', 'steady'] : [v.mode],
    pipelines,
    rounds: int('rounds', v.rounds ?? (pipelines.length > 1 ? '3' : '1'), 1, 50),
    rate: num('rate', v.rate, 0.1, 100_000),
    durationS: num('duration', v.duration, 0.5, 86_400),
    warmupS: num('warmup', v.warmup, 0, 600),
    skipBaseline: v['skip-baseline'],
    baselineS: num('baseline-seconds', v['baseline-seconds'], 0.5, 600),
    drainTimeoutS: num('drain-timeout', v['drain-timeout'], 1, 3600),
    cpuProfDir: v['cpu-prof'] ?? null,
  };
}

export function parseSoakArgs(argv: string[]): SoakOptions | null {
  const v = parse(argv, {
    ...COMMON,
    minutes: { type: 'string', default: '30' },
    rate: { type: 'string', default: '500' },
    sample: { type: 'string', default: '0.1' },
  });
  if (v.help) return null;
  return {
    ...loadFlags(v),
    minutes: num('minutes', v.minutes, 0.1, 24 * 60),
    rate: num('rate', v.rate, 0.1, 100_000),
    sample: num('sample', v.sample, 0, 1),
  };
}

/**
 * A command's flags, or its exit code without running: `--help` prints the usage (0); a bad
 * usage, or a `--url` that is not loopback, prints the problem and the usage (2).
 */
export function parseOrExitCode<T extends LoadFlags>(
  argv: string[],
  parse: (argv: string[]) => T | null,
  usage: string,
): { opts: T } | { exitCode: number } {
  let opts: T | null;
  try {
    opts = parse(argv);
    if (opts?.url) assertLoopback(opts.url);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${usage}\n`);
    return { exitCode: 2 };
  }
  if (!opts) {
    process.stdout.write(`${usage}\n`);
    return { exitCode: 0 };
  }
  return { opts };
}
