import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  type CpuProfile,
  formatProfileSummary,
  groupOf,
  packageOf,
  summarizeProfile,
} from '../lib/cpu-profile-summary.ts';

const FIXTURE = new URL('./fixtures/small.cpuprofile', import.meta.url);
const profile = JSON.parse(readFileSync(FIXTURE, 'utf8')) as CpuProfile;

describe('CPU profile summary (npm run bench -- --cpu-prof)', () => {
  const summary = summarizeProfile(profile, '/tmp/prof/api-123.cpuprofile');

  it('counts each sample for the interval after it, and idle apart from busy', () => {
    assert.equal(summary.role, 'api');
    assert.equal(summary.wallMs, 100);
    assert.equal(summary.busyMs, 60);
  });

  it('ranks functions by self time', () => {
    assert.deepEqual(
      summary.topSelf.map((f) => [f.name, f.selfMs]),
      [
        ['handle (main.js:10)', 20],
        ['sendCommand (ioredis:338)', 15],
        ['(garbage collector)', 10],
        ['stringify', 5],
        ['verify (@fastify/jwt:100)', 5],
        ['createHash (node:crypto:138)', 5],
      ],
    );
  });

  it('ranks by inclusive time, a recursive function counted once per sample', () => {
    const total = Object.fromEntries(summary.topTotal.map((f) => [f.name, f.totalMs]));
    assert.equal(total['handle (main.js:10)'], 40);
    assert.equal(total['sendCommand (ioredis:338)'], 25);
    assert.equal(total['verify (@fastify/jwt:100)'], 10);
    assert.equal(summary.topTotal[0]?.name, 'handle (main.js:10)');
    assert.ok(!summary.topTotal.some((f) => f.name.startsWith('(')), 'no pseudo-frames among callers');
  });

  it('groups self time, node core counting for its caller', () => {
    assert.deepEqual(
      summary.groups.map((g) => [g.group, g.ms, g.share]),
      [
        ['own code', 20, 0.333],
        ['redis client', 15, 0.25],
        ['gc', 10, 0.167],
        ['jwt', 10, 0.167],
        ['json', 5, 0.083],
      ],
    );
  });

  it('leaves out the samples before a given wall-clock time', () => {
    // The profile started at t = 1,000,000 ms; its samples are at +0, 40, 50, 60, 65, 75, 80, 90, 95, 100 ms.
    const later = summarizeProfile({ ...profile, wallStartMs: 1_000_000 }, 'consumers-1.cpuprofile', 12, 1_000_060);
    // From the sample at +60 ms on: sendCommand 5, handle 10, stringify 5, GC 10, verify 5, createHash 5.
    assert.equal(later.role, 'consumers');
    assert.equal(later.busyMs, 40);
    assert.equal(later.topSelf.find((f) => f.name.startsWith('sendCommand'))?.selfMs, 5);
    assert.equal(summarizeProfile(profile, 'x.cpuprofile', 12, 1_000_060).busyMs, 60, 'no start time: all of it');
  });

  it('names packages and groups from script URLs', () => {
    assert.equal(packageOf('file:///a/node_modules/@fastify/jwt/jwt.js'), '@fastify/jwt');
    assert.equal(packageOf('file:///a/node_modules/x/node_modules/mysql2/lib/c.js'), 'mysql2');
    assert.equal(packageOf('file:///a/api/dist/main.js'), null);
    assert.equal(groupOf({ functionName: 'f', url: 'file:///a/node_modules/pino/pino.js', lineNumber: 0 }), 'pino');
    assert.equal(
      groupOf({ functionName: 'f', url: 'file:///a/node_modules/amqplib/lib/c.js', lineNumber: 0 }),
      'amqplib',
    );
    assert.equal(groupOf({ functionName: 'f', url: 'file:///a/node_modules/fastify/f.js', lineNumber: 0 }), 'fastify');
    assert.equal(groupOf({ functionName: 'parse', url: '', lineNumber: -1 }), 'json');
  });

  it('prints a few lines per process', () => {
    const text = formatProfileSummary(summary, 3);
    assert.match(text, /^api \(api-123\.cpuprofile\): busy 60 ms of 100 ms sampled/);
    assert.match(
      text,
      /by group \(self time\): own code 33\.3%, redis client 25\.0%, gc 16\.7%, jwt 16\.7%, json 8\.3%/,
    );
    assert.match(text, /33\.3% {2}handle \(main\.js:10\) \[own code\]/);
    assert.equal(text.split('\n').length, 2 + 1 + 3 + 1 + 3);
  });
});
