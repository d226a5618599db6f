import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { createConsumerMetrics } from '../../consumers/src/metrics.ts';
import { createApiMetrics } from '../src/platform/metrics.ts';

/** Helpers for the monitoring-*.test.ts files: paths, promtool, PromQL metric names. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MONITORING = `${ROOT}monitoring/`;

export function readYaml<T = Record<string, unknown>>(path: string): T {
  // merge: YAML 1.1 `<<` merge keys, which docker compose supports.
  return parse(readFileSync(path, 'utf8'), { merge: true }) as T;
}

export function readJson<T = Record<string, unknown>>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

const run = promisify(execFile);

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs promtool; never throws on a non-zero exit (the caller asserts on it). */
export async function promtool(args: string[], input?: string): Promise<ToolResult> {
  if (input !== undefined) {
    return new Promise((resolve, reject) => {
      const child = execFile('promtool', args, (err, stdout, stderr) => {
        const code = err ? (err as unknown as { code: unknown }).code : 0;
        if (err && typeof code !== 'number') reject(err);
        else resolve({ code: code as number, stdout, stderr });
      });
      child.stdin?.end(input);
    });
  }
  try {
    const { stdout, stderr } = await run('promtool', args);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Grafana's built-in interval variables, replaced by a valid duration for promtool. */
export function withoutGrafanaVariables(expr: string): string {
  return expr
    .replace(/\$__(rate_interval|interval|range)\b/g, '5m')
    .replace(/\$\{__(rate_interval|interval|range)\}/g, '5m');
}

const PROMQL_WORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'and',
  'or',
  'unless',
  'inf',
  'nan',
]);

/**
 * The metric names a PromQL expression reads. Strings, label matchers, groupings, ranges and
 * function calls are removed first; what is left that looks like an identifier is a metric.
 */
export function metricNamesIn(expr: string): string[] {
  const stripped = withoutGrafanaVariables(expr)
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = m[0];
    const after = stripped.slice((m.index ?? 0) + word.length).trimStart();
    if (after.startsWith('(')) continue; // a function or aggregation
    if (PROMQL_WORDS.has(word.toLowerCase())) continue;
    if (/^\d/.test(word)) continue;
    names.add(word);
  }
  return [...names];
}

/**
 * Every series name our registries expose: counters as named (with `_total`), gauges as named,
 * histograms as `_bucket`, `_sum` and `_count`, summaries with `_sum` and `_count`.
 */
export async function exportedSeriesNames(): Promise<{ api: Set<string>; consumer: Set<string> }> {
  const expand = async (registry: ReturnType<typeof createApiMetrics>['registry']) => {
    const names = new Set<string>();
    for (const metric of await registry.getMetricsAsJSON()) {
      const type = String(metric.type);
      if (type === 'histogram') {
        for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${metric.name}${suffix}`);
      } else if (type === 'summary') {
        for (const suffix of ['', '_sum', '_count']) names.add(`${metric.name}${suffix}`);
      } else {
        names.add(metric.name);
      }
    }
    return names;
  };
  return { api: await expand(createApiMetrics().registry), consumer: await expand(createConsumerMetrics().registry) };
}

/** rabbitmq_prometheus metric families, captured from the broker (see the fixture's header). */
export function rabbitmqMetricNames(): Set<string> {
  const text = readFileSync(fileURLToPath(new URL('./fixtures/rabbitmq-metric-names.txt', import.meta.url)), 'utf8');
  return new Set(
    text
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split(' ')[0] as string),
  );
}

/** Prometheus's own per-target series, always present. */
export const PROMETHEUS_SYNTHETIC = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);

/**
 * The value of the text-format sample `name{labels}` whose labels are exactly `labels` (in any
 * order), or undefined. Label values here never contain `,` or `"`.
 */
export function sampleValue(body: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',');
  for (const line of body.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    if ((m[2] ?? '').split(',').filter(Boolean).sort().join(',') === want) return Number(m[3]);
  }
  return undefined;
}
