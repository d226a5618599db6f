/**
 * `npm run soak -- --minutes N --rate R`: a steady load for a long time, to see drift. Prints one
 * row per minute (accepted, processed, accept and write→processed p50/p99, RSS per process) and
 * at the end the slope of each process's RSS (MB/min, least squares over every 500 ms sample) and
 * of the latencies (ms/min over the minute rows). Not in CI. `--help` for flags.
 *
 * Exit codes: 0 done; 1 failed, or accepted writes were not final after the drain; 2 bad usage.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiClient, registerUsers } from './lib/api-client.ts';
import { waitUntilFinal } from './lib/collect.ts';
import { LatencySampler } from './lib/latency-sampler.ts';
import { LoadState, runLoad } from './lib/load.ts';
import { describeMachine } from './lib/machine.ts';
import { parseOrExitCode, parseSoakArgs, SOAK_USAGE, type SoakOptions } from './lib/options.ts';
import { ProcessMonitor } from './lib/processes.ts';
import { attachProduct, type Product, startProduct } from './lib/product.ts';
import { doneCounter } from './lib/progress.ts';
import { type LatencySummary, linearSlope } from './lib/stats.ts';
import { NoteFactory } from './lib/workload.ts';

const log = (line: string) => process.stderr.write(`[soak] ${line}\n`);

interface MinuteRow {
  minute: number;
  accepted: number;
  errors: number;
  processed: number | null;
  acceptMs: LatencySummary;
  writeToProcessedMs: LatencySummary;
  rssMb: Record<string, number>;
}

interface SoakSummary {
  machine: Awaited<ReturnType<typeof describeMachine>>;
  run: { minutes: number; rate: number; connections: number; users: number; url: string };
  accepted: number;
  errors: Record<string, number>;
  unfinishedAfterDrain: number | null;
  sampled: { overdue: number; dead: number };
  minutes: MinuteRow[];
  peakRssMb: Record<string, number>;
  slopes: {
    rssMbPerMin: Record<string, number | null>;
    acceptP50MsPerMin: number | null;
    acceptP99MsPerMin: number | null;
    writeToProcessedP50MsPerMin: number | null;
    writeToProcessedP99MsPerMin: number | null;
  };
}

const ms = (n: number | null) => (n === null ? 'n/a' : n.toFixed(0));

function formatRow(r: MinuteRow): string {
  const rss = Object.entries(r.rssMb)
    .map(([name, mb]) => `${name} ${mb.toFixed(0)}`)
    .join(' ');
  return (
    `min ${String(r.minute).padStart(3)}  accepted ${r.accepted}  errors ${r.errors}  processed ${r.processed ?? 'n/a'}` +
    `  accept p50/p99 ${ms(r.acceptMs.p50)}/${ms(r.acceptMs.p99)} ms` +
    `  write→processed p50/p99 ${ms(r.writeToProcessedMs.p50)}/${ms(r.writeToProcessedMs.p99)} ms (n=${r.writeToProcessedMs.count})` +
    `  RSS MB: ${rss}`
  );
}

async function soak(opts: SoakOptions, product: Product): Promise<{ summary: SoakSummary; ok: boolean }> {
  const runId = randomBytes(4).toString('hex');
  const machine = await describeMachine();
  const load = new ApiClient(product.url, opts.connections);
  const control = new ApiClient(product.url, 8);
  const monitor = new ProcessMonitor(product.roots, { keepSeries: true });
  const sampler = new LatencySampler(control, opts.sample);
  try {
    log(`registering ${opts.users} users`);
    const tokens = await registerUsers(control, runId, opts.users);
    const state = new LoadState(tokens.length);
    const done = await doneCounter(product, control, state);
    monitor.start();
    sampler.start();
    log(`steady ${opts.rate} writes/s for ${opts.minutes} min over ${opts.connections} connections`);
    const running = runLoad(
      load,
      tokens,
      new NoteFactory(runId),
      {
        mode: 'steady',
        rate: opts.rate,
        durationS: opts.minutes * 60,
        connections: opts.connections,
        keepNotes: false,
        onAccepted: (u, note) => sampler.offer(tokens[u] as string, note),
      },
      state,
    );
    let finished = false;
    void running.finally(() => {
      finished = true;
    });

    const rows: MinuteRow[] = [];
    const t0 = Date.now();
    let last = { accepted: 0, errors: 0, done: (await done()) ?? 0 };
    for (let minute = 1; minute <= Math.ceil(opts.minutes); minute++) {
      const at = t0 + Math.min(minute, opts.minutes) * 60_000;
      while (!finished && Date.now() < at) await sleep(Math.min(1000, at - Date.now()));
      const nowDone = await done().catch(() => null);
      const procs = monitor.figures().filter((p) => p.name !== 'bench');
      const row: MinuteRow = {
        minute,
        accepted: state.accepted - last.accepted,
        errors: state.errors.total - last.errors,
        processed: nowDone === null ? null : nowDone - last.done,
        acceptMs: state.acceptLatency.drain().summary(),
        writeToProcessedMs: sampler.drainWindow().summary(),
        rssMb: Object.fromEntries(procs.map((p) => [p.name, p.rssMb])),
      };
      last = { accepted: state.accepted, errors: state.errors.total, done: nowDone ?? last.done };
      rows.push(row);
      (opts.json ? log : (l: string) => process.stdout.write(`${l}\n`))(formatRow(row));
      if (finished) break;
    }
    await running;

    log('load done; waiting for the pipeline');
    await waitUntilFinal(control, tokens, state.accepted, product.unfinished, 300);
    await sampler.flush(30_000);
    sampler.stop();
    const finalDone = await done().catch(() => null);
    const procs = monitor.stop();

    const byName = new Map<string, { x: number; y: number }[]>();
    for (const s of monitor.series) {
      const points = byName.get(s.name) ?? [];
      points.push({ x: s.t / 60, y: s.rssMb });
      byName.set(s.name, points);
    }
    const rssSlope = Object.fromEntries(
      [...byName].filter(([n]) => n !== 'bench').map(([n, pts]) => [n, linearSlope(pts)]),
    );
    const slopeOf = (pick: (r: MinuteRow) => number | null) =>
      linearSlope(rows.flatMap((r) => (pick(r) === null ? [] : [{ x: r.minute, y: pick(r) as number }])));
    const unfinished = finalDone === null ? null : state.accepted - finalDone;
    const summary: SoakSummary = {
      machine,
      run: {
        minutes: opts.minutes,
        rate: opts.rate,
        connections: opts.connections,
        users: opts.users,
        url: product.url,
      },
      accepted: state.accepted,
      errors: state.errors.toJSON(),
      unfinishedAfterDrain: unfinished,
      sampled: { overdue: sampler.overdue, dead: sampler.dead },
      minutes: rows,
      peakRssMb: Object.fromEntries(procs.map((p) => [p.name, p.peakRssMb])),
      slopes: {
        rssMbPerMin: rssSlope,
        acceptP50MsPerMin: slopeOf((r) => r.acceptMs.p50),
        acceptP99MsPerMin: slopeOf((r) => r.acceptMs.p99),
        writeToProcessedP50MsPerMin: slopeOf((r) => r.writeToProcessedMs.p50),
        writeToProcessedP99MsPerMin: slopeOf((r) => r.writeToProcessedMs.p99),
      },
    };
    return { summary, ok: !unfinished && sampler.overdue === 0 };
  } finally {
    sampler.stop();
    monitor.stop();
    await load.close();
    await control.close();
  }
}

function formatSummary(s: SoakSummary): string {
  const f = (n: unknown, unit: string) =>
    typeof n === 'number' ? `${n >= 0 ? '+' : ''}${n.toFixed(2)} ${unit}` : 'n/a';
  const lines = [
    '',
    `accepted ${s.accepted}, errors ${JSON.stringify(s.errors)}, unfinished after drain ${s.unfinishedAfterDrain ?? 'n/a'}`,
    'process            peak RSS    RSS slope',
    ...Object.entries(s.peakRssMb)
      .filter(([n]) => n !== 'bench')
      .map(([n, mb]) => `${n.padEnd(16)} ${mb.toFixed(1).padStart(7)} MB  ${f(s.slopes.rssMbPerMin[n], 'MB/min')}`),
    `latency slopes: accept p50 ${f(s.slopes.acceptP50MsPerMin, 'ms/min')}, p99 ${f(s.slopes.acceptP99MsPerMin, 'ms/min')}; ` +
      `write→processed p50 ${f(s.slopes.writeToProcessedP50MsPerMin, 'ms/min')}, p99 ${f(s.slopes.writeToProcessedP99MsPerMin, 'ms/min')}`,
  ];
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseOrExitCode(argv, parseSoakArgs, SOAK_USAGE);
  if ('exitCode' in parsed) return parsed.exitCode;
  const { opts } = parsed;
  const product = opts.url
    ? await attachProduct(opts.url)
    : await startProduct({
        consumers: opts.consumers,
        // Tokens are issued once, before the load: they must outlive the run.
        env: { JWT_EXPIRES_IN_SECONDS: String(Math.max(3600, Math.ceil(opts.minutes * 60) + 900)), ...opts.productEnv },
        log,
      });
  if (opts.url && opts.minutes > 50)
    log('tokens are issued once: a product whose tokens expire within the run will answer 401');
  const interrupted = async (signal: NodeJS.Signals) => {
    log(`${signal}: stopping the product`);
    await product.stop().catch(() => {});
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const { summary, ok } = await soak(opts, product);
    process.stdout.write(opts.json ? `${JSON.stringify(summary)}\n` : `${formatSummary(summary)}\n`);
    return ok ? 0 : 1;
  } finally {
    await product.stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`soak failed: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
