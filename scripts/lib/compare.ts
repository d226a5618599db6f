import type { LoadMode } from './load.ts';
import type { PipelineName, PipelineRun } from './measure.ts';
import { ratio } from './stats.ts';

/**
 * Our product against the BullMQ comparator (README.md, "Performance"): each figure's median
 * over the rounds of one run, per pipeline and mode, and the ratio ours ÷ BullMQ beside the
 * target the README's table states. Peak RSS is the highest of any run, not a median.
 */
export interface MedianFigures {
  rounds: number;
  acceptedPerS: number | null;
  processedPerS: number | null;
  acceptP50Ms: number | null;
  acceptP99Ms: number | null;
  writeToProcessedP50Ms: number | null;
  writeToProcessedP99Ms: number | null;
  /** CPU of the pipeline's own processes ÷ wall-clock time, in cores (0.68 = 68% of a core). */
  ownCoreShare: number | null;
  ownCpuMsPerNote: number | null;
  /** The highest sum of the pipeline's own processes' peak RSS in any run of this mode. */
  ownPeakRssMb: number | null;
}

export type Medians = Partial<Record<PipelineName, Partial<Record<LoadMode, MedianFigures>>>>;

export interface ComparisonRow {
  key: string;
  figure: string;
  unit: 'per_s' | 'ms' | 'cores' | 'MiB';
  bullmq: number | null;
  ours: number | null;
  /** ours ÷ BullMQ. */
  ratio: number | null;
  target: string;
  /** Whether ours meets the target; null where there is none or a figure is missing. */
  met: boolean | null;
}

export function median(values: readonly (number | null)[]): number | null {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
}

function figuresOf(runs: readonly PipelineRun[]): MedianFigures {
  const m = (f: (r: PipelineRun) => number | null) => median(runs.map(f));
  return {
    rounds: runs.length,
    acceptedPerS: m((r) => r.product.acceptedPerS),
    processedPerS: m((r) => r.product.processedPerS),
    acceptP50Ms: m((r) => r.product.acceptLatencyMs.p50),
    acceptP99Ms: m((r) => r.product.acceptLatencyMs.p99),
    writeToProcessedP50Ms: m((r) => r.product.writeToProcessedMs.p50),
    writeToProcessedP99Ms: m((r) => r.product.writeToProcessedMs.p99),
    ownCoreShare: m((r) => r.own.coreShare),
    ownCpuMsPerNote: m((r) => r.own.cpuMsPerNote),
    ownPeakRssMb: runs.length ? Math.max(...runs.map((r) => r.own.peakRssMb)) : null,
  };
}

export function computeMedians(runs: readonly PipelineRun[]): Medians {
  const out: Medians = {};
  for (const run of runs) {
    const byMode = out[run.pipeline] ?? {};
    out[run.pipeline] = byMode;
    if (!byMode[run.mode]) {
      byMode[run.mode] = figuresOf(runs.filter((r) => r.pipeline === run.pipeline && r.mode === run.mode));
    }
  }
  return out;
}

interface RowSpec {
  key: string;
  figure: string;
  mode: LoadMode | 'any';
  unit: ComparisonRow['unit'];
  pick: (f: MedianFigures) => number | null;
  target: string;
  /** Whether ours meets the target, from ours and the ratio. */
  meets?: (ours: number, ratio: number | null) => boolean | null;
}

/** The figures and targets, in the README table's order. */
const ROWS: readonly RowSpec[] = [
  {
    key: 'burst_acceptedPerS',
    figure: 'burst: accepted writes/s',
    mode: 'burst',
    unit: 'per_s',
    pick: (f) => f.acceptedPerS,
    target: '≥ 1.3× BullMQ',
    meets: (_, x) => (x === null ? null : x >= 1.3),
  },
  {
    key: 'burst_processedPerS',
    figure: 'burst: processed notes/s',
    mode: 'burst',
    unit: 'per_s',
    pick: (f) => f.processedPerS,
    target: '≥ 1.3× BullMQ',
    meets: (_, x) => (x === null ? null : x >= 1.3),
  },
  {
    key: 'burst_writeToProcessedP50',
    figure: 'burst: write→processed p50',
    mode: 'burst',
    unit: 'ms',
    pick: (f) => f.writeToProcessedP50Ms,
    target: '',
  },
  {
    key: 'burst_writeToProcessedP99',
    figure: 'burst: write→processed p99',
    mode: 'burst',
    unit: 'ms',
    pick: (f) => f.writeToProcessedP99Ms,
    target: '≤ 5,000 ms',
    meets: (v) => v <= 5000,
  },
  {
    key: 'steady_acceptP50',
    figure: 'steady: accept p50',
    mode: 'steady',
    unit: 'ms',
    pick: (f) => f.acceptP50Ms,
    target: '',
  },
  {
    key: 'steady_acceptP99',
    figure: 'steady: accept p99',
    mode: 'steady',
    unit: 'ms',
    pick: (f) => f.acceptP99Ms,
    target: '≤ 20 ms',
    meets: (v) => v <= 20,
  },
  {
    key: 'steady_writeToProcessedP50',
    figure: 'steady: write→processed p50',
    mode: 'steady',
    unit: 'ms',
    pick: (f) => f.writeToProcessedP50Ms,
    target: '',
  },
  {
    key: 'steady_writeToProcessedP99',
    figure: 'steady: write→processed p99',
    mode: 'steady',
    unit: 'ms',
    pick: (f) => f.writeToProcessedP99Ms,
    target: '≤ 50 ms',
    meets: (v) => v <= 50,
  },
  {
    key: 'steady_ownCpuCores',
    figure: 'steady: CPU of its own processes',
    mode: 'steady',
    unit: 'cores',
    pick: (f) => f.ownCoreShare,
    target: '',
  },
  {
    key: 'peakRssMb',
    figure: 'peak RSS, all its processes',
    mode: 'any',
    unit: 'MiB',
    pick: (f) => f.ownPeakRssMb,
    target: '≤ 350 MiB',
    meets: (v) => v <= 350,
  },
];

function pickFrom(m: Medians, pipeline: PipelineName, spec: RowSpec): number | null {
  const byMode = m[pipeline];
  if (!byMode) return null;
  if (spec.mode !== 'any') {
    const f = byMode[spec.mode];
    return f ? spec.pick(f) : null;
  }
  const all = Object.values(byMode)
    .map(spec.pick)
    .filter((v): v is number => v !== null);
  return all.length ? Math.max(...all) : null;
}

/** The comparison rows; rows whose mode was not run are left out. */
export function compare(m: Medians): ComparisonRow[] {
  const rows: ComparisonRow[] = [];
  for (const spec of ROWS) {
    const ours = pickFrom(m, 'ours', spec);
    const bullmq = pickFrom(m, 'bullmq', spec);
    if (ours === null && bullmq === null) continue;
    const x = ratio(ours, bullmq);
    const met = ours === null || !spec.meets ? null : spec.meets(ours, x);
    const { key, figure, unit, target } = spec;
    rows.push({ key, figure, unit, bullmq, ours, ratio: x, target, met });
  }
  return rows;
}

/** `key → ours ÷ BullMQ` for every row (the JSON's flat view). */
export function ratiosOf(rows: readonly ComparisonRow[]): Record<string, number | null> {
  return Object.fromEntries(rows.map((r) => [r.key, r.ratio]));
}
