import { type AnalysisCost, formatAnalysisCost } from './analysis-cost.ts';
import { type Baseline, bestDb, dbNear } from './baseline.ts';
import type { EndToEnd } from './collect.ts';
import type { Machine } from './machine.ts';
import type { ProcessFigures } from './processes.ts';
import { type LatencySummary, ratio } from './stats.ts';

/**
 * The bench's result: one JSON object (--json) or a table on stdout. Every product figure is
 * also given as a ratio to the same-run baseline of its components.
 */
export interface BenchResult {
  machine: Machine;
  run: {
    mode: string;
    offeredRate: number | null;
    durationS: number;
    /** Seconds of unmeasured load (and a drain) before the measured run. */
    warmupS: number;
    connections: number;
    users: number;
    consumers: number | null;
    url: string;
    ownedProduct: boolean;
    startedAt: string;
  };
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
  baseline: Baseline | null;
  /** The consumer's analysis alone on 64 KiB bodies, crafted and ordinary (lib/analysis-cost.ts). */
  analysis: AnalysisCost;
  ratios: Record<string, number | null>;
}

export function computeRatios(r: Pick<BenchResult, 'product' | 'baseline' | 'run'>): Record<string, number | null> {
  const b = r.baseline;
  if (!b) return {};
  const best = bestDb(b);
  const near = dbNear(b, r.run.connections);
  const p = r.product;
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

export function formatBench(r: BenchResult): string {
  const m = r.machine;
  const p = r.product;
  const b = r.baseline;
  const best = b ? bestDb(b) : null;
  const near = b ? dbNear(b, r.run.connections) : null;
  const x = r.ratios;
  const others = r.processes.filter((pr) => pr.name !== 'bench');
  const total = {
    cpuS: others.reduce((t, pr) => t + pr.cpuS, 0),
    cpuMsPerNote: others.every((pr) => pr.cpuMsPerNote !== null)
      ? others.reduce((t, pr) => t + (pr.cpuMsPerNote ?? 0), 0)
      : null,
  };
  const out: string[] = [];
  out.push(
    `machine: ${m.cpus} cores (${m.cpuModel}), ${m.memGiB} GiB, Node ${m.node}, MariaDB ${m.mariadb ?? '?'}, ` +
      `RabbitMQ ${m.rabbitmq ?? '?'}, Redis ${m.redis ?? '?'}; load average at start ${m.loadAvg1.toFixed(2)}`,
  );
  const rate = r.run.mode === 'steady' ? ` at ${r.run.offeredRate}/s offered` : '';
  out.push(
    `run: ${r.run.mode}${rate}, ${r.run.durationS} s after ${r.run.warmupS} s of warm-up, ${r.run.connections} connections, ${r.run.users} users, ` +
      `${r.run.consumers ?? '?'} consumer process(es), ${r.run.ownedProduct ? 'product started by the bench' : r.run.url}`,
  );
  out.push('');
  const rawTx = best ? `${f0(best.txPerS)} tx/s (${best.connections} conns)` : '';
  const rawConsume = b ? `${f0(b.amqp.consumePerS)} msg/s consumed` : '';
  const rawLat = (q: 'p50' | 'p99') =>
    near && b ? `tx ${ms(near.txLatencyMs[q])} + transit ${ms(b.amqp.transitLatencyMs[q])}` : '';
  out.push(
    table([
      ['product', 'value', 'baseline', 'ratio'],
      ['accepted writes/s', f0(p.acceptedPerS), rawTx, fx(x.acceptedPerS_vs_dbTxPerS)],
      [
        'accept latency p50',
        ms(p.acceptLatencyMs.p50),
        near ? `tx ${ms(near.txLatencyMs.p50)} (${near.connections} conns)` : '',
        fx(x.acceptP50_vs_dbTxP50),
      ],
      [
        'accept latency p99',
        ms(p.acceptLatencyMs.p99),
        near ? `tx ${ms(near.txLatencyMs.p99)} (${near.connections} conns)` : '',
        fx(x.acceptP99_vs_dbTxP99),
      ],
      ['processed notes/s', f0(p.processedPerS), rawConsume, fx(x.processedPerS_vs_consumePerS)],
      [
        'write→processed p50',
        ms(p.writeToProcessedMs.p50),
        rawLat('p50'),
        fx(x.writeToProcessedP50_vs_txPlusTransitP50),
      ],
      [
        'write→processed p99',
        ms(p.writeToProcessedMs.p99),
        rawLat('p99'),
        fx(x.writeToProcessedP99_vs_txPlusTransitP99),
      ],
    ]),
  );
  out.push('');
  const errors = Object.entries(p.errors)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
  out.push(
    `writes: ${p.offered === null ? '' : `${f0(p.offered)} offered, `}${f0(p.sent)} sent, ${f0(p.accepted)} accepted, errors ${errors || 'none'}; ` +
      `notes: ${f0(p.processed)} processed, ${f0(p.dead)} dead, ${f0(p.unfinished)} unfinished, ${f0(p.missing)} missing; ` +
      `drained ${f1(p.drainS)} s after the load` +
      (p.drainPerS === null ? '' : ` at ${f0(p.drainPerS)} notes/s (the pipeline with no writes competing)`),
  );
  out.push(
    `accept latency p90 ${ms(p.acceptLatencyMs.p90)}, max ${ms(p.acceptLatencyMs.max)}; ` +
      `write→processed p90 ${ms(p.writeToProcessedMs.p90)}, max ${ms(p.writeToProcessedMs.max)}`,
  );
  out.push('');
  out.push(
    table([
      ['process', 'peak RSS (run)', 'VmHWM (lifetime)', 'CPU s', 'CPU ms/note'],
      ...r.processes.map((pr) => [
        pr.name,
        `${f1(pr.peakRssMb)} MB`,
        pr.hwmMb === null ? 'n/a' : `${f1(pr.hwmMb)} MB`,
        f1(pr.cpuS),
        pr.cpuMsPerNote?.toFixed(2) ?? '',
      ]),
      ['all but the bench', '', '', f1(total.cpuS), total.cpuMsPerNote?.toFixed(2) ?? ''],
    ]),
  );
  if (b) {
    out.push('');
    out.push(
      table([
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
      ]),
    );
  }
  out.push('', formatAnalysisCost(r.analysis));
  return out.join('\n');
}
