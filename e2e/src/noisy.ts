import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { type BystanderReport, percentile } from './bystander.ts';

/** "About a second", generously: this machine is shared and noisy (docs/isolation.md). */
export const BYSTANDER_MAX_MS = 3000;

/** The largest body the API accepts, in UTF-8 bytes. */
const BODY_LIMIT = 65_536;

/**
 * A note body built to be slow for a backtracking analysis: one link, then punctuation up to the
 * body limit, then a letter (so the trailing-punctuation trim has to give up at every dot).
 */
export function craftedBody(i: number, limit = BODY_LIMIT - 16): string {
  const head = `see http://x${i}`;
  return `${head}${'.'.repeat(limit - head.length - 1)}a`;
}

/**
 * Prints the bystander's write→processed p50 and max, and asserts they stayed within about a
 * second while the noisy neighbour ran: never refused, nothing lost, a few notes at least.
 */
export function assertBystanderUnharmed(t: TestContext, report: BystanderReport, maxMs = BYSTANDER_MAX_MS): void {
  const p50 = percentile(report.latenciesMs, 50);
  const max = Math.max(...report.latenciesMs);
  t.diagnostic(
    `bystander: ${report.latenciesMs.length} notes, write→processed p50 ${p50.toFixed(0)} ms, max ${max.toFixed(0)} ms` +
      (Object.keys(report.refused).length ? `; refused ${JSON.stringify(report.refused)}` : ''),
  );
  assert.deepEqual(report.refused, {}, 'the bystander was never refused');
  assert.equal(report.lost, 0, 'every bystander note was processed');
  assert.ok(report.latenciesMs.length >= 3, `${report.latenciesMs.length} bystander notes`);
  assert.ok(max < maxMs, `bystander write→processed max ${max.toFixed(0)} ms (p50 ${p50.toFixed(0)} ms)`);
}
