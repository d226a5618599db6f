import { randomBytes } from 'node:crypto';
import { ApiClient, registerUsers } from './api-client.ts';
import { collectEndToEnd, type EndToEnd, waitUntilFinal } from './collect.ts';
import { type LoadMode, LoadState, runLoad } from './load.ts';
import type { BenchOptions } from './options.ts';
import { isBullmqProcess, isProductProcess, type ProcessFigures, ProcessMonitor } from './processes.ts';
import type { Product } from './product.ts';
import { doneCounter, startProgress } from './progress.ts';
import type { LatencySummary } from './stats.ts';
import { NoteFactory } from './workload.ts';

/**
 * One measured run of one pipeline in one mode (bench.ts runs several, alternating): fresh users,
 * a warm-up, the load, a wait until every accepted note is final, and every note read back. Only
 * the pipeline's own processes, the shared services and the bench are watched; the other
 * pipeline, idle meanwhile, is left out.
 */
export type PipelineName = 'ours' | 'bullmq';

export interface PipelineRun {
  pipeline: PipelineName;
  mode: LoadMode;
  /** 1-based round of the alternation. */
  round: number;
  offeredRate: number | null;
  product: {
    /** Steady: writes the schedule called for (sent ≤ offered when the product fell behind); burst: null. */
    offered: number | null;
    sent: number;
    accepted: number;
    /** Non-2xx answers by status, and network errors by code. */
    errors: Record<string, number>;
    acceptedPerS: number;
    acceptLatencyMs: LatencySummary;
  } & EndToEnd;
  processes: (ProcessFigures & { cpuMsPerNote: number | null })[];
  /** Wall-clock seconds over which CPU was counted: from the load's start until every note was final. */
  cpuWindowS: number;
  /** The pipeline's own processes together (not the shared services, not the bench). */
  own: { cpuS: number; coreShare: number | null; cpuMsPerNote: number | null; peakRssMb: number };
}

/**
 * Each round measures every mode of every pipeline, and the order of the pipelines flips from
 * one round to the next (ours first, then BullMQ first, …), so neither always runs on a machine
 * warmed, or tired, by the other. Both stay started for the whole run; the idle one waits.
 */
export function schedule(
  pipelines: readonly PipelineName[],
  modes: readonly LoadMode[],
  rounds: number,
): { pipeline: PipelineName; mode: LoadMode; round: number }[] {
  const out = [];
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? pipelines : [...pipelines].reverse();
    for (const mode of modes) for (const pipeline of order) out.push({ pipeline, mode, round });
  }
  return out;
}

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/**
 * The same load for --warmup seconds, then a wait until the pipeline is idle: the measured run
 * starts with JIT-compiled code, open connection pools and warm caches, and with nothing queued.
 * A cold start at 500 writes/s otherwise fell behind for its first ~7 s (accept p99 ~1 s); a
 * product under steady traffic is warm. The warm-up's notes are not measured.
 */
async function warmUp(
  opts: BenchOptions,
  mode: LoadMode,
  product: Product,
  load: ApiClient,
  control: ApiClient,
  tokens: string[],
  factory: NoteFactory,
): Promise<number> {
  if (opts.warmupS <= 0) return 0;
  log(`warming up: the same load for ${opts.warmupS} s, not measured`);
  const state = new LoadState(tokens.length);
  const { rate, connections } = opts;
  await runLoad(load, tokens, factory, { mode, rate, durationS: opts.warmupS, connections, keepNotes: false }, state);
  const drainS = await waitUntilFinal(control, tokens, state.accepted, product.unfinished, opts.drainTimeoutS);
  log(`warm-up: ${state.accepted} writes accepted, all final ${drainS.toFixed(1)} s after`);
  return state.accepted;
}

export async function measure(
  opts: BenchOptions,
  product: Product,
  what: { pipeline: PipelineName; mode: LoadMode; round: number },
): Promise<PipelineRun> {
  const { mode } = what;
  const runId = randomBytes(4).toString('hex');
  const load = new ApiClient(product.url, opts.connections);
  // Registration, progress and read-back go through their own few connections, so the load's
  // pool stays exactly --connections wide.
  const control = new ApiClient(product.url, 8);
  const monitor = new ProcessMonitor(product.roots, {
    ignore: (name) => (isProductProcess(name) || isBullmqProcess(name)) && !product.ownsProcess(name),
  });
  try {
    log(`${what.pipeline}, ${mode}, round ${what.round}: registering ${opts.users} users`);
    // Fresh users per run: each reads back only its own notes.
    const tokens = await registerUsers(control, runId, opts.users);
    const factory = new NoteFactory(runId);
    const warmedUp = await warmUp(opts, mode, product, load, control, tokens, factory);
    monitor.start();
    const state = new LoadState(tokens.length);
    const progress = startProgress(state, await doneCounter(product, control, state), log);
    log(
      mode === 'burst'
        ? `burst: ${opts.connections} connections writing back to back for ${opts.durationS} s`
        : `steady: ${opts.rate} writes/s offered over ${opts.connections} connections for ${opts.durationS} s`,
    );
    monitor.startCpuWindow();
    const { rate, durationS, connections } = opts;
    const result = await runLoad(load, tokens, factory, { mode, rate, durationS, connections, keepNotes: true }, state);
    log(`load done: ${state.accepted} accepted in ${result.elapsedS.toFixed(1)} s; waiting for the pipeline`);
    // Counted through the API (--url), the users' notes include the warm-up's.
    const all = warmedUp + state.accepted;
    const drainS = await waitUntilFinal(control, tokens, all, product.unfinished, opts.drainTimeoutS);
    monitor.endCpuWindow();
    progress.stop();
    log('reading every note back');
    const e2e = await collectEndToEnd(control, tokens, state.noteIds, drainS, result.endedAtMs);
    const perNote = (cpuS: number) => (e2e.processed > 0 ? (cpuS * 1000) / e2e.processed : null);
    const processes = monitor.stop().map((p) => ({ ...p, cpuMsPerNote: perNote(p.cpuS) }));
    const own = processes.filter((p) => product.ownsProcess(p.name));
    const ownCpuS = own.reduce((t, p) => t + p.cpuS, 0);
    const cpuWindowS = monitor.cpuWindowS;
    return {
      ...what,
      offeredRate: mode === 'steady' ? opts.rate : null,
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
      cpuWindowS,
      own: {
        cpuS: ownCpuS,
        coreShare: cpuWindowS > 0 ? ownCpuS / cpuWindowS : null,
        cpuMsPerNote: perNote(ownCpuS),
        peakRssMb: own.reduce((t, p) => t + p.peakRssMb, 0),
      },
    };
  } finally {
    monitor.stop();
    await load.close();
    await control.close();
  }
}
