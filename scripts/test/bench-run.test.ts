import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { BenchResult } from '../lib/report.ts';
import { isNum, runBench } from './bench-helpers.ts';

/**
 * `npm run bench -- --only ours` end to end, small: the bench starts the real product (npm start)
 * in its own namespace, runs a tiny steady load and a short baseline, and prints one JSON object.
 * Asserts that every figure is there and that every accepted write was processed — never how fast.
 */
describe('npm run bench', () => {
  it('prints every figure as JSON, and every accepted write ends processed', async () => {
    const profiles = mkdtempSync(join(tmpdir(), 'bench-prof-'));
    const { code, stdout, stderr } = await runBench([
      '--cpu-prof',
      profiles,
      '--json',
      '--only',
      'ours',
      '--mode',
      'steady',
      '--rate',
      '20',
      '--duration',
      '2',
      '--warmup',
      '1',
      '--connections',
      '4',
      '--users',
      '3',
      '--baseline-seconds',
      '0.5',
      '--drain-timeout',
      '90',
    ]);
    assert.equal(code, 0, `bench exited ${code}\n${stderr}`);
    const lines = stdout.trim().split('\n');
    assert.equal(lines.length, 1, 'stdout is exactly one JSON object');
    const r = JSON.parse(lines[0] as string) as BenchResult;

    assert.deepEqual(r.run.modes, ['steady']);
    assert.deepEqual(r.run.pipelines, ['ours']);
    assert.equal(r.run.rounds, 1, '--only runs one round unless told');
    assert.equal(r.run.warmupS, 1);
    assert.equal(r.run.url, null);
    assert.equal(r.runs.length, 1);
    const run = r.runs[0] as BenchResult['runs'][number];
    assert.equal(run.pipeline, 'ours');
    const p = run.product;
    assert.ok(p.accepted > 0, 'some writes were accepted');
    // The warm-up's ~20 writes are not counted: only the measured run's 40 were offered.
    assert.ok(isNum(p.offered) && p.offered >= p.sent, 'steady mode reports the offered writes');
    assert.equal(p.sent, p.accepted + Object.values(p.errors).reduce((a, b) => a + b, 0));
    assert.equal(p.processed, p.accepted, 'processed == accepted');
    assert.equal(p.missing, 0);
    assert.equal(p.dead, 0);
    assert.equal(p.unfinished, 0);
    for (const v of [p.acceptedPerS, p.processedPerS, p.acceptLatencyMs.p50, p.acceptLatencyMs.p99])
      assert.ok(isNum(v));
    for (const v of [p.writeToProcessedMs.p50, p.writeToProcessedMs.p99]) assert.ok(isNum(v) && v >= 0);
    assert.equal(p.writeToProcessedMs.count, p.processed);

    const names = run.processes.map((x) => x.name);
    for (const name of ['api', 'consumer-1', 'supervisor', 'bench']) assert.ok(names.includes(name), names.join());
    assert.ok(!names.some((n) => n.startsWith('bullmq-')), 'no comparator runs with --only ours');
    for (const x of run.processes.filter((x) => ['api', 'consumer-1'].includes(x.name))) {
      assert.ok(x.peakRssMb > 10, `${x.name} peak RSS ${x.peakRssMb}`);
      assert.ok(isNum(x.cpuS));
    }
    assert.ok(isNum(run.own.cpuS) && isNum(run.own.coreShare) && run.own.peakRssMb > 20);
    assert.ok(isNum(r.medians.ours?.steady?.acceptP99Ms));
    assert.deepEqual(r.comparison, [], 'nothing to compare with one pipeline');

    assert.ok(r.baseline);
    assert.deepEqual(
      r.baseline.db.map((d) => d.connections),
      [16, 64],
    );
    for (const d of r.baseline.db) assert.ok(d.txPerS > 0 && isNum(d.txLatencyMs.p99));
    const a = r.baseline.amqp;
    for (const v of [a.publishPerS, a.consumePerS, a.confirmLatencyMs.p99, a.transitLatencyMs.p99]) assert.ok(isNum(v));
    for (const [k, v] of Object.entries(run.componentRatios)) assert.ok(isNum(v), `ratio ${k} = ${v}`);
    assert.equal(Object.keys(run.componentRatios).length, 7);
    for (const k of ['cpus', 'memGiB', 'node', 'mariadb', 'rabbitmq', 'redis'] as const) assert.ok(r.machine[k], k);

    // The analysis alone on 64 KiB bodies: every crafted corpus measured, the worst one named.
    assert.ok(r.analysis.corpora.length >= 8);
    for (const c of r.analysis.corpora) assert.ok(isNum(c.msPerKiB) && c.bytes > 60_000 && c.bytes <= 65_536, c.name);
    assert.ok(
      r.analysis.corpora.some((c) => c.name === r.analysis.worst.name && c.msPerKiB === r.analysis.worst.msPerKiB),
    );
    assert.match(stderr, /analysis \(consumer CPU, 64 KiB bodies\): worst [\d.]+ µs\/KiB/);

    // --cpu-prof: the API's and the consumer's profiles, summarised.
    assert.deepEqual(r.cpuProfiles?.map((x) => x.role).sort(), ['api', 'consumers']);
    for (const x of r.cpuProfiles ?? []) {
      assert.ok(x.busyMs > 0 && x.topSelf.length > 0 && x.groups.length > 0, x.role);
      assert.ok(
        x.groups.some((g) => g.group === 'own code'),
        x.role,
      );
    }
    rmSync(profiles, { recursive: true, force: true });
  });

  it('refuses bad usage with exit code 2 and a non-loopback --url', async () => {
    assert.equal((await runBench(['--mode', 'sideways'])).code, 2);
    assert.equal((await runBench(['--only', 'theirs'])).code, 2);
    const remote = await runBench(['--url', 'http://192.0.2.1:3000', '--skip-baseline']);
    assert.equal(remote.code, 2);
    assert.match(remote.stderr, /loopback/);
  });
});
