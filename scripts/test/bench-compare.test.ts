import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import type { BenchResult } from '../lib/report.ts';
import { isNum, runBench } from './bench-helpers.ts';

/**
 * `npm run bench` against the BullMQ comparator, small: both pipelines start (our product under
 * npm start, the comparator's server and worker), each runs a short burst and a short steady
 * load, and the JSON carries every figure of both, the medians and the ratios. Afterwards neither
 * pipeline's database or Redis keys are left. Never asserts how fast anything was.
 */
// The services the test kit uses (contracts/src/testing.ts).
const MYSQL = process.env.TEST_MYSQL_SERVER_URL ?? 'mysql://root@127.0.0.1:3306/';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('npm run bench: ours against the BullMQ comparator', () => {
  it('runs both pipelines, alternating, reports every figure and ratio, and cleans up', async () => {
    const { code, stdout, stderr } = await runBench(
      [
        '--json',
        '--rounds',
        '2',
        '--rate',
        '20',
        '--duration',
        '1.5',
        '--warmup',
        '0',
        '--connections',
        '4',
        '--users',
        '3',
        '--skip-baseline',
        '--drain-timeout',
        '90',
      ],
      400_000,
    );
    assert.equal(code, 0, `bench exited ${code}\n${stderr}`);
    const r = JSON.parse(stdout.trim()) as BenchResult;
    assert.deepEqual(r.run.pipelines, ['ours', 'bullmq']);
    assert.deepEqual(r.run.modes, ['burst', 'steady']);

    // Round 1: ours first in each mode; round 2: BullMQ first.
    assert.deepEqual(
      r.runs.map((x) => `${x.round} ${x.mode} ${x.pipeline}`),
      [
        '1 burst ours',
        '1 burst bullmq',
        '1 steady ours',
        '1 steady bullmq',
        '2 burst bullmq',
        '2 burst ours',
        '2 steady bullmq',
        '2 steady ours',
      ],
    );
    for (const x of r.runs) {
      const p = x.product;
      const which = `${x.pipeline} ${x.mode} #${x.round}`;
      assert.ok(p.accepted > 0, `${which}: writes accepted`);
      assert.equal(p.processed, p.accepted, `${which}: every accepted note processed`);
      assert.equal(p.missing + p.dead + p.unfinished, 0, which);
      for (const v of [p.acceptedPerS, p.processedPerS, p.acceptLatencyMs.p99, p.writeToProcessedMs.p99])
        assert.ok(isNum(v), `${which}: ${v}`);
      // Each run watches its own pipeline's processes, never the other's.
      const own = x.processes.filter(
        (pr) => pr.name !== 'bench' && /^(api|consumer-|supervisor|bullmq-)/.test(pr.name),
      );
      const expected = x.pipeline === 'ours' ? ['api', 'consumer-1', 'supervisor'] : ['bullmq-server', 'bullmq-worker'];
      assert.deepEqual(own.map((pr) => pr.name).sort(), expected, which);
      assert.ok(isNum(x.own.coreShare) && x.own.cpuS >= 0 && x.own.peakRssMb > 20, which);
    }

    for (const pipeline of ['ours', 'bullmq'] as const) {
      for (const mode of ['burst', 'steady'] as const) {
        const m = r.medians[pipeline]?.[mode];
        assert.equal(m?.rounds, 2, `${pipeline} ${mode}`);
        for (const [k, v] of Object.entries(m ?? {})) assert.ok(isNum(v), `${pipeline} ${mode} ${k} = ${v}`);
      }
    }
    assert.equal(r.comparison.length, 10);
    for (const row of r.comparison) {
      assert.ok(isNum(row.ours) && isNum(row.bullmq) && isNum(row.ratio), row.key);
      assert.ok(Math.abs((row.ratio as number) - (row.ours as number) / (row.bullmq as number)) < 1e-9, row.key);
      assert.equal(r.ratios[row.key], row.ratio);
    }
    for (const k of ['cpus', 'memGiB', 'node', 'mariadb', 'redis'] as const) assert.ok(r.machine[k], k);
    assert.ok(isNum(r.loadAvg1AtEnd));

    // Both namespaces are gone: the databases and every Redis key under their prefixes.
    const databases = [...stderr.matchAll(/database (np_\w+)/g)].map((m) => m[1] as string);
    const prefixes = [...stderr.matchAll(/key prefix (np_\w+:)/g)].map((m) => m[1] as string);
    assert.equal(databases.length, 2, stderr);
    assert.equal(prefixes.length, 2);
    const db = await mysql.createConnection(MYSQL);
    const redis = new Redis(REDIS_URL, { lazyConnect: true });
    try {
      for (const name of databases) {
        const [rows] = await db.query('SHOW DATABASES LIKE ?', [name]);
        assert.equal((rows as unknown[]).length, 0, `${name} dropped`);
      }
      await redis.connect();
      for (const prefix of prefixes) {
        const left: string[] = [];
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          left.push(...keys);
          cursor = next;
        } while (cursor !== '0');
        assert.deepEqual(left, [], `no keys left under ${prefix}`);
      }
    } finally {
      await db.end();
      redis.disconnect();
    }
  });
});
