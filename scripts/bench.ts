/**
 * `npm run bench`: the end-to-end load benchmark (README.md, "Performance"). Starts the
 * product in a namespace of its own (or drives one already running with --url), writes notes
 * from many authenticated clients over loopback, reads every note back, and prints accepted
 * writes/s, accept latency, processed notes/s, write→processed latency and peak memory per
 * process, each beside a same-run baseline of raw MariaDB and raw RabbitMQ. `--help` for flags.
 *
 * Exit codes: 0 done; 1 failed, or an accepted write went missing; 2 bad usage.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runDataBench } from './bench-data.ts';
import { type AnalysisCost, formatAnalysisCost, measureAnalysisCost } from './lib/analysis-cost.ts';
import { ApiClient, registerUsers } from './lib/api-client.ts';
import { type Baseline, runBaseline } from './lib/baseline.ts';
import { collectEndToEnd, waitUntilFinal } from './lib/collect.ts';
import { LoadState, runLoad } from './lib/load.ts';
import { describeMachine } from './lib/machine.ts';
import { BENCH_USAGE, type BenchOptions, parseBenchArgs, parseOrExitCode, UsageError } from './lib/options.ts';
import { ProcessMonitor } from './lib/processes.ts';
import { attachProduct, describeLimits, type Product, startProduct } from './lib/product.ts';
import { doneCounter, startProgress } from './lib/progress.ts';
import { type BenchResult, computeRatios, formatBench } from './lib/report.ts';
import { NoteFactory } from './lib/workload.ts';

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/**
 * The same load for --warmup seconds, then a wait until the pipeline is idle: the measured run
 * starts with JIT-compiled code, open connection pools and warm caches, and with nothing queued.
 * A cold start at 500 writes/s otherwise fell behind for its first ~7 s (accept p99 ~1 s); a
 * product under steady traffic is warm. The warm-up's notes are not measured.
 */
async function warmUp(
  opts: BenchOptions,
  product: Product,
  load: ApiClient,
  control: ApiClient,
  tokens: string[],
  factory: NoteFactory,
): Promise<number> {
  if (opts.warmupS <= 0) return 0;
  log(`warming up: the same load for ${opts.warmupS} s, not measured`);
  const state = new LoadState(tokens.length);
  const { mode, rate, connections } = opts;
  await runLoad(load, tokens, factory, { mode, rate, durationS: opts.warmupS, connections, keepNotes: false }, state);
  const drainS = await waitUntilFinal(control, tokens, state.accepted, product.unfinished, opts.drainTimeoutS);
  log(`warm-up: ${state.accepted} writes accepted, all final ${drainS.toFixed(1)} s after`);
  return state.accepted;
}

async function measure(
  opts: BenchOptions,
  product: Product,
  baseline: Baseline | null,
  analysis: AnalysisCost,
): Promise<BenchResult> {
  const runId = randomBytes(4).toString('hex');
  const startedAt = new Date().toISOString();
  const machine = await describeMachine();
  const load = new ApiClient(product.url, opts.connections);
  // Registration, progress and read-back go through their own few connections, so the load's
  // pool stays exactly --connections wide.
  const control = new ApiClient(product.url, 8);
  const monitor = new ProcessMonitor(product.roots);
  try {
    log(`registering ${opts.users} users`);
    const tokens = await registerUsers(control, runId, opts.users);
    const factory = new NoteFactory(runId);
    const warmedUp = await warmUp(opts, product, load, control, tokens, factory);
    monitor.start();
    const state = new LoadState(tokens.length);
    const progress = startProgress(state, await doneCounter(product, control, state), log);
    log(
      opts.mode === 'burst'
        ? `burst: ${opts.connections} connections writing back to back for ${opts.durationS} s`
        : `steady: ${opts.rate} writes/s offered over ${opts.connections} connections for ${opts.durationS} s`,
    );
    monitor.startCpuWindow();
    const result = await runLoad(
      load,
      tokens,
      factory,
      { mode: opts.mode, rate: opts.rate, durationS: opts.durationS, connections: opts.connections, keepNotes: true },
      state,
    );
    log(`load done: ${state.accepted} accepted in ${result.elapsedS.toFixed(1)} s; waiting for the pipeline`);
    // Counted through the API (--url), the users' notes include the warm-up's.
    const all = warmedUp + state.accepted;
    const drainS = await waitUntilFinal(control, tokens, all, product.unfinished, opts.drainTimeoutS);
    monitor.endCpuWindow();
    progress.stop();
    log('reading every note back');
    const e2e = await collectEndToEnd(control, tokens, state.noteIds, drainS, result.endedAtMs);
    const processes = monitor.stop().map((p) => ({
      ...p,
      cpuMsPerNote: e2e.processed > 0 ? (p.cpuS * 1000) / e2e.processed : null,
    }));
    const partial: Omit<BenchResult, 'ratios'> = {
      machine,
      run: {
        mode: opts.mode,
        offeredRate: opts.mode === 'steady' ? opts.rate : null,
        durationS: opts.durationS,
        warmupS: opts.warmupS,
        connections: opts.connections,
        users: opts.users,
        // With --url the count is what the process monitor found under npm start.
        consumers: product.consumers ?? (processes.filter((p) => p.name.startsWith('consumer-')).length || null),
        url: product.url,
        ownedProduct: product.owned,
        startedAt,
      },
      product: {
        offered: state.offered,
        sent: state.sent,
        errors: state.errors.toJSON(),
        acceptedPerS: state.accepted / result.elapsedS,
        acceptLatencyMs: state.acceptLatency.summary(),
        ...e2e,
        // The client's count: every 201 is an accepted write, whether or not it was found again.
        accepted: state.accepted,
      },
      processes,
      baseline,
      analysis,
    };
    return { ...partial, ratios: computeRatios(partial) };
  } finally {
    monitor.stop();
    await load.close();
    await control.close();
  }
}

/** Environment that makes the product's processes write CPU profiles (lib/cpu-profile.mjs). */
function profilingEnv(opts: BenchOptions): Record<string, string> {
  if (!opts.cpuProfDir) return {};
  const dir = resolve(opts.cpuProfDir);
  mkdirSync(dir, { recursive: true });
  log(`CPU profiles of the API and consumers go to ${dir}`);
  const preload = fileURLToPath(new URL('./lib/cpu-profile.mjs', import.meta.url));
  return { NODE_OPTIONS: `--import ${preload}`, BENCH_CPU_PROF_DIR: dir };
}

async function main(argv: string[]): Promise<number> {
  // `npm run bench -- --data N` is the data benchmark (bench-data.ts), not the write load.
  if (argv.some((a) => a === '--data' || a.startsWith('--data='))) return runDataBench(argv);
  const parsed = parseOrExitCode(argv, parseBenchArgs, BENCH_USAGE);
  if ('exitCode' in parsed) return parsed.exitCode;
  const { opts } = parsed;

  // The analysis alone and the baseline run first, while nothing of the product competes for the machine.
  const analysis = measureAnalysisCost();
  log(formatAnalysisCost(analysis));
  const baseline = opts.skipBaseline
    ? null
    : await runBaseline({ seconds: opts.baselineS, transitRate: opts.mode === 'steady' ? opts.rate : 500, log });

  log(opts.url ? `attaching to ${opts.url}` : `starting the product (${opts.consumers} consumer process(es))`);
  log(
    opts.url
      ? 'limits: as the running product is configured (429s, if any, are counted among the errors)'
      : describeLimits(opts.productEnv, opts.users, opts.connections),
  );
  const product = opts.url
    ? await attachProduct(opts.url)
    : await startProduct({ consumers: opts.consumers, env: { ...opts.productEnv, ...profilingEnv(opts) }, log });
  const interrupted = async (signal: NodeJS.Signals) => {
    log(`${signal}: stopping the product`);
    await product.stop().catch(() => {});
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const result = await measure(opts, product, baseline, analysis);
    process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : `\n${formatBench(result)}\n`);
    if (result.product.unfinished > 0)
      log(`${result.product.unfinished} notes were not final within the drain timeout`);
    if (result.product.missing > 0) {
      log(`${result.product.missing} accepted writes were not found when read back`);
      return 1;
    }
    return 0;
  } finally {
    await product.stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench failed: ${err instanceof UsageError ? err.message : (err?.stack ?? err)}\n`);
    process.exit(1);
  },
);
