/**
 * `npm run bench`: the end-to-end load benchmark (README.md, "Performance"). Starts our product in
 * a namespace of its own (or drives one already running with --url) and the BullMQ comparator
 * (bench/bullmq-pipeline/), then, round after round with the order flipped each time, writes notes
 * to each from many authenticated clients over loopback, reads every note back, and prints each
 * run's accepted writes/s, accept latency, processed notes/s, write→processed latency, CPU and
 * memory per process, the medians, and ours ÷ BullMQ beside the targets; also a same-run baseline
 * of raw MariaDB and raw RabbitMQ. `--only ours` measures our product alone. `--help` for flags.
 *
 * Exit codes: 0 done; 1 failed, or an accepted write went missing; 2 bad usage.
 */
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBullmqPipeline } from './bench/bullmq-pipeline/launch.ts';
import { runDataBench } from './bench-data.ts';
import { type AnalysisCost, formatAnalysisCost, measureAnalysisCost } from './lib/analysis-cost.ts';
import { type Baseline, runBaseline } from './lib/baseline.ts';
import { compare, computeMedians, ratiosOf } from './lib/compare.ts';
import { summarizeProfiles } from './lib/cpu-profile-summary.ts';
import { describeMachine } from './lib/machine.ts';
import { measure, type PipelineName, schedule } from './lib/measure.ts';
import { BENCH_USAGE, type BenchOptions, parseBenchArgs, parseOrExitCode, UsageError } from './lib/options.ts';
import { attachProduct, describeLimits, type Product, startProduct } from './lib/product.ts';
import { type BenchResult, componentRatios, formatBench } from './lib/report.ts';

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

async function startPipelines(opts: BenchOptions): Promise<Map<PipelineName, Product>> {
  const started = new Map<PipelineName, Product>();
  try {
    if (opts.pipelines.includes('ours')) {
      log(opts.url ? `attaching to ${opts.url}` : `starting our product (${opts.consumers} consumer process(es))`);
      log(
        opts.url
          ? 'limits: as the running product is configured (429s, if any, are counted among the errors)'
          : describeLimits(opts.productEnv, opts.users, opts.connections),
      );
      const env = { ...opts.productEnv, ...profilingEnv(opts) };
      started.set(
        'ours',
        opts.url ? await attachProduct(opts.url) : await startProduct({ consumers: opts.consumers, env, log }),
      );
    }
    if (opts.pipelines.includes('bullmq')) {
      log('starting the BullMQ comparator (bench/bullmq-pipeline: one server, one worker)');
      started.set('bullmq', await startBullmqPipeline({ log }));
    }
    return started;
  } catch (err) {
    await Promise.all([...started.values()].map((p) => p.stop().catch(() => {})));
    throw err;
  }
}

async function run(
  opts: BenchOptions,
  pipelines: Map<PipelineName, Product>,
  baseline: Baseline | null,
  analysis: AnalysisCost,
): Promise<BenchResult> {
  const startedAt = new Date().toISOString();
  const machine = await describeMachine();
  const runs: BenchResult['runs'] = [];
  for (const what of schedule(opts.pipelines, opts.modes, opts.rounds)) {
    const x = await measure(opts, pipelines.get(what.pipeline) as Product, what);
    runs.push({ ...x, componentRatios: componentRatios(x.product, baseline, opts.connections) });
  }
  const medians = computeMedians(runs);
  const comparison = opts.pipelines.length > 1 ? compare(medians) : [];
  const ours = pipelines.get('ours');
  return {
    machine,
    loadAvg1AtEnd: os.loadavg()[0] ?? 0,
    run: {
      modes: opts.modes,
      rate: opts.rate,
      durationS: opts.durationS,
      warmupS: opts.warmupS,
      connections: opts.connections,
      users: opts.users,
      // With --url the count is what the process monitor found under npm start.
      consumers:
        ours?.consumers ??
        (runs.find((r) => r.pipeline === 'ours')?.processes.filter((p) => p.name.startsWith('consumer-')).length ||
          null),
      rounds: opts.rounds,
      pipelines: opts.pipelines,
      url: opts.url,
      startedAt,
      finishedAt: new Date().toISOString(),
    },
    baseline,
    analysis,
    runs,
    medians,
    comparison,
    ratios: ratiosOf(comparison),
  };
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

  // The analysis alone and the baseline run first, while no pipeline competes for the machine.
  const analysis = measureAnalysisCost();
  log(formatAnalysisCost(analysis));
  const baseline = opts.skipBaseline
    ? null
    : await runBaseline({ seconds: opts.baselineS, transitRate: opts.modes.includes('steady') ? opts.rate : 500, log });

  const pipelines = await startPipelines(opts);
  const stopAll = () => Promise.all([...pipelines.values()].map((p) => p.stop().catch(() => {})));
  const interrupted = async (signal: NodeJS.Signals) => {
    log(`${signal}: stopping the pipelines`);
    await stopAll();
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const profilesSince = Date.now();
    const result = await run(opts, pipelines, baseline, analysis);
    if (opts.cpuProfDir) {
      // The processes write their profiles as they exit.
      await stopAll();
      result.cpuProfiles = summarizeProfiles(resolve(opts.cpuProfDir), profilesSince);
    }
    process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : `\n${formatBench(result)}\n`);
    let code = 0;
    for (const r of result.runs) {
      const which = `${r.pipeline} ${r.mode} #${r.round}`;
      if (r.product.unfinished > 0)
        log(`${which}: ${r.product.unfinished} notes were not final within the drain timeout`);
      if (r.product.missing > 0) {
        log(`${which}: ${r.product.missing} accepted writes were not found when read back`);
        code = 1;
      }
    }
    return code;
  } finally {
    await stopAll();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench failed: ${err instanceof UsageError ? err.message : (err?.stack ?? err)}\n`);
    process.exit(1);
  },
);
