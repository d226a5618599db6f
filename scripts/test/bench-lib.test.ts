import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertLoopback, NotLoopbackError } from '../lib/api-client.ts';
import { compare, computeMedians, median, ratiosOf } from '../lib/compare.ts';
import type { LoadMode } from '../lib/load.ts';
import { type PipelineName, type PipelineRun, schedule } from '../lib/measure.ts';
import { parseBenchArgs, parseSoakArgs, UsageError } from '../lib/options.ts';
import { linearSlope, percentile, ratio, Samples, summarize, Tally } from '../lib/stats.ts';
import { BODY_MAX_CHARS, BODY_MIN_CHARS, NoteFactory, pickPriority } from '../lib/workload.ts';

describe('bench statistics', () => {
  it('takes nearest-rank percentiles of every sample', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(sorted, 50), 50);
    assert.equal(percentile(sorted, 99), 99);
    assert.equal(percentile(sorted, 100), 100);
    assert.equal(percentile([7], 99), 7);
    assert.equal(percentile([], 50), null);
  });

  it('summarises unsorted samples', () => {
    const s = new Samples();
    for (const v of [5, 1, 4, 2, 3]) s.add(v);
    assert.deepEqual(s.summary(), { count: 5, p50: 3, p90: 5, p99: 5, max: 5, mean: 3 });
    assert.equal(summarize([]).p99, null);
  });

  it('drains a window and starts afresh', () => {
    const s = new Samples();
    s.add(1);
    s.add(2);
    const w = s.drain();
    assert.equal(w.count, 2);
    assert.equal(s.count, 0);
    s.add(10);
    assert.equal(s.summary().max, 10);
  });

  it('fits a least-squares slope', () => {
    const points = [0, 1, 2, 3, 4].map((x) => ({ x, y: 2 * x + 10 }));
    assert.equal(linearSlope(points), 2);
    assert.equal(linearSlope([{ x: 1, y: 1 }]), null);
    assert.equal(
      linearSlope([
        { x: 1, y: 1 },
        { x: 1, y: 5 },
      ]),
      null,
    );
  });

  it('gives ratios only when both sides exist', () => {
    assert.equal(ratio(10, 4), 2.5);
    assert.equal(ratio(null, 4), null);
    assert.equal(ratio(1, 0), null);
  });

  it('tallies errors by status', () => {
    const t = new Tally();
    t.add('503');
    t.add('429', 2);
    t.add('503');
    assert.equal(t.total, 4);
    assert.deepEqual(t.toJSON(), { '429': 2, '503': 2 });
  });
});

describe('bench workload', () => {
  it('writes realistic, distinct notes: 300–2,000 characters, tags, a link, a valid title', () => {
    const f = new NoteFactory('t3st', 42);
    const titles = new Set<string>();
    const bodies = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const n = f.next();
      assert.ok(n.body.length >= BODY_MIN_CHARS && n.body.length <= BODY_MAX_CHARS, `body length ${n.body.length}`);
      assert.ok((n.body.match(/(^|\s)#[\p{L}\p{N}_]+/gu) ?? []).length >= 2, 'a few #tags');
      assert.match(n.body, /https:\/\/\S+/);
      assert.ok(n.title.length >= 1 && n.title.length <= 200);
      titles.add(n.title);
      bodies.add(n.body);
    }
    assert.equal(titles.size, 2000, 'every title differs (no idempotent replays)');
    assert.equal(bodies.size, 2000);
  });

  it('picks priorities 70% normal / 20% high / 10% low', () => {
    assert.equal(pickPriority(0), 'normal');
    assert.equal(pickPriority(0.6999), 'normal');
    assert.equal(pickPriority(0.7), 'high');
    assert.equal(pickPriority(0.8999), 'high');
    assert.equal(pickPriority(0.9), 'low');
    const f = new NoteFactory('mix', 7);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 20_000; i++) {
      const p = f.next().priority;
      counts[p] = (counts[p] ?? 0) + 1;
    }
    assert.ok(Math.abs((counts.normal ?? 0) / 20_000 - 0.7) < 0.02, JSON.stringify(counts));
    assert.ok(Math.abs((counts.high ?? 0) / 20_000 - 0.2) < 0.02, JSON.stringify(counts));
    assert.ok(Math.abs((counts.low ?? 0) / 20_000 - 0.1) < 0.02, JSON.stringify(counts));
  });
});

describe('bench options', () => {
  it('has the documented defaults', () => {
    const o = parseBenchArgs([]);
    assert.ok(o);
    assert.equal(o.mode, 'both');
    assert.deepEqual(o.modes, ['burst', 'steady']);
    assert.deepEqual(o.pipelines, ['ours', 'bullmq']);
    assert.equal(o.rounds, 3);
    assert.equal(o.connections, 64);
    assert.equal(o.users, 64);
    assert.equal(o.durationS, 20);
    assert.equal(o.warmupS, 5);
    assert.equal(o.url, null);
    assert.equal(o.json, false);
    assert.equal(o.skipBaseline, false);
  });

  it('parses steady mode, product env and --help', () => {
    const o = parseBenchArgs(['--mode', 'steady', '--rate', '500', '--product-env', 'CONSUMER_PREFETCH=64', '--json']);
    assert.equal(o?.mode, 'steady');
    assert.deepEqual(o?.modes, ['steady']);
    assert.equal(o?.rate, 500);
    assert.deepEqual(o?.productEnv, { CONSUMER_PREFETCH: '64' });
    assert.equal(parseBenchArgs(['--help']), null);
    // One pipeline (or a product someone else runs) measures one round unless told otherwise.
    assert.deepEqual(parseBenchArgs(['--only', 'ours'])?.pipelines, ['ours']);
    assert.equal(parseBenchArgs(['--only', 'bullmq'])?.rounds, 1);
    assert.equal(parseBenchArgs(['--only', 'ours', '--rounds', '5'])?.rounds, 5);
    assert.deepEqual(parseBenchArgs(['--url', 'http://127.0.0.1:3000'])?.pipelines, ['ours']);
    assert.equal(parseSoakArgs(['--minutes', '2'])?.minutes, 2);
  });

  it('refuses bad usage', () => {
    for (const argv of [
      ['--mode', 'fast'],
      ['--only', 'both'],
      ['--rounds', '0'],
      ['--url', 'http://127.0.0.1:3000', '--only', 'bullmq'],
      ['--connections', '0'],
      ['--warmup', '-1'],
      ['--rate', 'x'],
      ['--nope'],
      ['--product-env', 'novalue'],
      ['positional'],
    ]) {
      assert.throws(() => parseBenchArgs(argv), UsageError, argv.join(' '));
    }
  });

  it('drives loopback addresses only', () => {
    for (const url of ['http://127.0.0.1:3000', 'http://localhost:3000', 'http://[::1]:3000']) assertLoopback(url);
    for (const url of ['http://10.0.0.1:3000', 'http://example.com', 'http://0.0.0.0:3000']) {
      assert.throws(() => assertLoopback(url), NotLoopbackError, url);
    }
  });
});

describe('bench comparison', () => {
  const run = (pipeline: PipelineName, mode: LoadMode, round: number, v: number): PipelineRun => {
    const lat = summarize([v, v * 2]);
    return {
      pipeline,
      mode,
      round,
      offeredRate: mode === 'steady' ? 500 : null,
      product: {
        offered: null,
        sent: 10,
        accepted: 10,
        errors: {},
        acceptedPerS: v * 100,
        acceptLatencyMs: lat,
        processed: 10,
        dead: 0,
        unfinished: 0,
        missing: 0,
        processedPerS: v * 90,
        drainPerS: null,
        writeToProcessedMs: lat,
        drainS: 0,
      },
      processes: [],
      cpuWindowS: 10,
      own: { cpuS: v, coreShare: v / 10, cpuMsPerNote: v, peakRssMb: v * 100 },
    };
  };

  it('alternates which pipeline goes first, round by round, in every mode', () => {
    assert.deepEqual(
      schedule(['ours', 'bullmq'], ['burst', 'steady'], 2).map((s) => `${s.round}${s.mode[0]}${s.pipeline}`),
      ['1bours', '1bbullmq', '1sours', '1sbullmq', '2bbullmq', '2bours', '2sbullmq', '2sours'],
    );
    assert.equal(schedule(['ours'], ['burst'], 3).length, 3);
  });

  it('takes medians over rounds, the highest peak RSS, and ratios ours ÷ BullMQ', () => {
    assert.equal(median([3, null, 1, 2]), 2);
    assert.equal(median([4, 1]), 2.5);
    assert.equal(median([]), null);
    const runs = [1, 2, 9].flatMap((v, i) => [
      run('ours', 'burst', i + 1, v),
      run('bullmq', 'burst', i + 1, v * 2),
      run('ours', 'steady', i + 1, v),
      run('bullmq', 'steady', i + 1, 4),
    ]);
    const m = computeMedians(runs);
    assert.equal(m.ours?.burst?.acceptedPerS, 200);
    assert.equal(m.bullmq?.burst?.acceptedPerS, 400);
    assert.equal(m.ours?.steady?.ownPeakRssMb, 900, 'peak RSS is the highest, not a median');
    const rows = compare(m);
    assert.equal(rows.length, 10);
    const row = (key: string) => rows.find((r) => r.key === key);
    assert.equal(row('burst_acceptedPerS')?.ratio, 0.5);
    assert.equal(row('burst_acceptedPerS')?.met, false, 'the target is 1.3× BullMQ');
    assert.equal(row('peakRssMb')?.ours, 900);
    assert.equal(row('peakRssMb')?.bullmq, 1800);
    assert.equal(row('peakRssMb')?.met, false);
    assert.equal(row('steady_acceptP99')?.ours, 4);
    assert.equal(row('steady_acceptP99')?.met, true, 'p99 4 ms ≤ 20 ms');
    assert.equal(row('steady_acceptP50')?.met, null, 'no target');
    assert.deepEqual(
      Object.keys(ratiosOf(rows)),
      rows.map((r) => r.key),
    );
    // One pipeline alone: nothing to divide by.
    assert.ok(compare(computeMedians(runs.filter((r) => r.pipeline === 'ours'))).every((r) => r.ratio === null));
  });
});
