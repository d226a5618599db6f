import { type AnalysisCost, formatAnalysisCost } from './analysis-cost.ts';
import { type Baseline, bestDb, dbNear } from './baseline.ts';
import type { ComparisonRow, Medians } from './compare.ts';
import { formatProfileSummary, type ProfileSummary } from './cpu-profile-summary.ts';
import type { LoadMode } from './load.ts';
import type { Machine } from './machine.ts';
import type { PipelineName, PipelineRun } from './measure.ts';
import { ratio } from './stats.ts';

/**
 * The bench's result: one JSON object (--json) or tables on stdout. Every run of every pipeline is
 * kept; the figures compared are medians over the rounds (lib/compare.ts), and each run's product
 * figures are also given as ratios to the same-run baseline of its components.
 */
export interface BenchResult {
  machine: Machine;
  /** The 1-minute load average when the last run ended (machine.loadAvg1 is at the start). */
  loadAvg1AtEnd: number;
  run: {
    modes: LoadMode[];
    /** Steady runs' offered writes/s. */
    rate: number;
    durationS: number;
    /** Seconds of unmeasured load (and a drain) before each measured run. */
    warmupS: number;
    connections: number;
    users: number;
    consumers: number | null;
    rounds: number;
    pipelines: PipelineName[];
    /** Our product's URL (--url), or null when the bench started it. */
    url: string | null;
    startedAt: string;
    finishedAt: string;
  };
  baseline: Baseline | null;
  /** The consumer's analysis alone on 64 KiB bodies, crafted and ordinary (lib/analysis-cost.ts). */
  analysis: AnalysisCost;
  runs: (PipelineRun & { componentRatios: Record<string, number | null> })[];
  medians: Medians;
  /** Ours against the BullMQ comparator, figure by figure (empty when only one pipeline ran). */
  comparison: ComparisonRow[];
  /** `figure → ours ÷ BullMQ`. */
  ratios: Record<string, number | null>;
  /** --cpu-prof: each profiled process's summary (lib/cpu-profile-summary.ts). */
  cpuProfiles?: ProfileSummary[];
}

/** One run's figures against its components alone (raw MariaDB, raw RabbitMQ). */
export function componentRatios(
  p: PipelineRun['product'],
  b: Baseline | null,
  connections: number,
): Record<string, number | null> {
  if (!b) return {};
  const best = bestDb(b);
  const near = dbNear(b, connections);
  const raw = (q: 'p50' | 'p99') => {
    const tx = near?.txLatencyMs[q];
    const transit = b.amqp.transitLatencyMs[q];
    return tx == null || transit == null ? null : tx + transit;
  };
  return {
    acceptedPerS_vs_dbTxPerS: ratio(p.acceptedPerS, best?.txPerS),
    acceptP50_vs_dbTxP50: ratio(p.acceptLatencyMs.p50, near?.txLatencyMs.p50),
    acceptP99_vs_dbTxP99: ratio(p.acceptLatencyMs.p99, near?.txLatencyMs.p99),
    processedPerS_vs_consumePerS: ratio(p.processedPerS, b.amqp.consumePerS),
    processedPerS_vs_publishPerS: ratio(p.processedPerS, b.amqp.publishPerS),
    writeToProcessedP50_vs_txPlusTransitP50: ratio(p.writeToProcessedMs.p50, raw('p50')),
    writeToProcessedP99_vs_txPlusTransitP99: ratio(p.writeToProcessedMs.p99, raw('p99')),
  };
}

const f0 = (n: number | null | undefined) => (n == null ? 'n/a' : Math.round(n).toLocaleString('en-US'));
const f1 = (n: number | null | undefined) => (n == null ? 'n/a' : n.toFixed(1));
const fx = (n: number | null | undefined) => (n == null ? '' : `${n.toFixed(2)}×`);
const ms = (n: number | null | undefined) => (n == null ? 'n/a' : `${n.toFixed(1)} ms`);

function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, c.length);
    });
  }
  return rows
    .map((row) =>
      row
        .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const NAMES: Record<PipelineName, string> = { ours: 'ours', bullmq: 'BullMQ' };

function runsTable(runs: BenchResult['runs']): string {
  return table([
    ['run', 'accepted/s', 'processed/s', 'accept p50 / p99', 'write→processed p50 / p99', 'own CPU', 'own RSS', 'lost'],
    ...runs.map((r) => [
      `${NAMES[r.pipeline]} ${r.mode}${r.offeredRate === null ? '' : ` ${r.offeredRate}/s`} #${r.round}`,
      f0(r.product.acceptedPerS),
      f0(r.product.processedPerS),
      `${ms(r.product.acceptLatencyMs.p50)} / ${ms(r.product.acceptLatencyMs.p99)}`,
      `${ms(r.product.writeToProcessedMs.p50)} / ${ms(r.product.writeToProcessedMs.p99)}`,
      r.own.coreShare === null
        ? 'n/a'
        : `${Math.round(r.own.coreShare * 100)}% (${r.own.cpuMsPerNote?.toFixed(2) ?? '?'} ms/note)`,
      `${f0(r.own.peakRssMb)} MB`,
      `${f0(r.product.missing)} missing, ${f0(r.product.unfinished)} unfinished`,
    ]),
  ]);
}

function value(row: ComparisonRow, v: number | null): string {
  if (v === null) return 'n/a';
  if (row.unit === 'cores') return `${Math.round(v * 100)}% of a core`;
  if (row.unit === 'MiB') return `${f0(v)} MiB`;
  if (row.unit === 'ms') return ms(v);
  return f0(v);
}

function comparisonTable(rows: readonly ComparisonRow[]): string {
  return table([
    ['figure (medians)', 'BullMQ', 'ours', 'ours/BullMQ', 'target', 'met'],
    ...rows.map((row) => [
      row.figure,
      value(row, row.bullmq),
      value(row, row.ours),
      fx(row.ratio),
      row.target,
      row.met === null ? '' : row.met ? 'yes' : 'NO',
    ]),
  ]);
}

function processTable(r: BenchResult['runs'][number]): string {
  const others = r.processes.filter((pr) => pr.name !== 'bench');
  const cpuS = others.reduce((t, pr) => t + pr.cpuS, 0);
  const perNote = others.every((pr) => pr.cpuMsPerNote !== null)
    ? others.reduce((t, pr) => t + (pr.cpuMsPerNote ?? 0), 0)
    : null;
  return table([
    [
      `process (${NAMES[r.pipeline]} ${r.mode} #${r.round})`,
      'peak RSS (run)',
      'VmHWM (lifetime)',
      'CPU s',
      'CPU ms/note',
    ],
    ...r.processes.map((pr) => [
      pr.name,
      `${f1(pr.peakRssMb)} MB`,
      pr.hwmMb === null ? 'n/a' : `${f1(pr.hwmMb)} MB`,
      f1(pr.cpuS),
      pr.cpuMsPerNote?.toFixed(2) ?? '',
    ]),
    ['all but the bench', '', '', f1(cpuS), perNote?.toFixed(2) ?? ''],
  ]);
}

function baselineTable(b: Baseline): string {
  return table([
    ['baseline (components alone)', 'rate', 'p50', 'p99'],
    ...b.db.map((d) => [
      `MariaDB note+outbox tx, ${d.connections} conns`,
      `${f0(d.txPerS)}/s`,
      ms(d.txLatencyMs.p50),
      ms(d.txLatencyMs.p99),
    ]),
    [
      `RabbitMQ confirmed publish, ${b.amqp.inFlight} in flight`,
      `${f0(b.amqp.publishPerS)}/s`,
      ms(b.amqp.confirmLatencyMs.p50),
      ms(b.amqp.confirmLatencyMs.p99),
    ],
    [`RabbitMQ consume + ack, prefetch ${b.amqp.prefetch}`, `${f0(b.amqp.consumePerS)}/s`, '', ''],
    [
      `RabbitMQ publish→deliver at ${b.amqp.transitRate}/s`,
      '',
      ms(b.amqp.transitLatencyMs.p50),
      ms(b.amqp.transitLatencyMs.p99),
    ],
  ]);
}

export function formatBench(r: BenchResult): string {
  const m = r.machine;
  const out: string[] = [];
  out.push(
    `machine: ${m.cpus} cores (${m.cpuModel}), ${m.memGiB} GiB, Node ${m.node}, MariaDB ${m.mariadb ?? '?'}, ` +
      `RabbitMQ ${m.rabbitmq ?? '?'}, Redis ${m.redis ?? '?'}; load average ${m.loadAvg1.toFixed(2)} at the start, ` +
      `${r.loadAvg1AtEnd.toFixed(2)} at the end`,
  );
  out.push(
    `run: ${r.run.pipelines.map((p) => NAMES[p]).join(' and ')}, ${r.run.rounds} round(s) of ${r.run.modes.join(' then ')}` +
      `${r.run.modes.includes('steady') ? ` (steady at ${r.run.rate}/s offered)` : ''}, ${r.run.durationS} s each after ` +
      `${r.run.warmupS} s of warm-up, ${r.run.connections} connections, ${r.run.users} users, ` +
      `${r.run.consumers ?? '?'} consumer process(es)${r.run.url ? `, ours at ${r.run.url}` : ''}`,
  );
  out.push('', runsTable(r.runs));
  if (r.comparison.length && r.run.pipelines.length > 1) out.push('', comparisonTable(r.comparison));
  const errors = r.runs
    .filter((x) => Object.keys(x.product.errors).length)
    .map((x) => `${NAMES[x.pipeline]} ${x.mode} #${x.round}: ${JSON.stringify(x.product.errors)}`);
  if (errors.length) out.push('', `errors: ${errors.join('; ')}`);
  // Each pipeline's last run per mode, process by process.
  const last = new Map<string, BenchResult['runs'][number]>();
  for (const x of r.runs) last.set(`${x.pipeline}/${x.mode}`, x);
  for (const x of last.values()) out.push('', processTable(x));
  if (r.baseline) out.push('', baselineTable(r.baseline));
  out.push('', formatAnalysisCost(r.analysis));
  if (r.cpuProfiles?.length) {
    out.push(
      '',
      "CPU profiles (from the first run's start to exit, warm-up included; share of each process's busy time):",
    );
    for (const s of r.cpuProfiles) out.push(formatProfileSummary(s));
  }
  return out.join('\n');
}
