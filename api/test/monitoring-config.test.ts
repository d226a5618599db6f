import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { METRICS } from '@notes/contracts';
import { stringify } from 'yaml';
import {
  exportedSeriesNames,
  MONITORING,
  metricNamesIn,
  PROMETHEUS_SYNTHETIC,
  promtool,
  rabbitmqMetricNames,
  readJson,
  readYaml,
  withoutGrafanaVariables,
} from './monitoring-helpers.ts';

/**
 * monitoring/ is configuration that only runs under docker compose, so it is checked here:
 * promtool on the Prometheus config, alert unit tests and every dashboard query; the Grafana
 * provisioning's data source links; and that every metric a dashboard or alert reads is one the
 * code (or RabbitMQ) exports (docs/operations.md).
 */
const PROVISIONED_UIDS = new Set(['prometheus', 'loki', 'tempo']);
const DASHBOARDS = path.join(MONITORING, 'grafana/dashboards');
const tmp = mkdtempSync(path.join(tmpdir(), 'monitoring-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Target {
  expr?: string;
  datasource?: { uid?: string; type?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { uid?: string; type?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating?: { list: { name: string; type: string; definition?: string; includeAll?: boolean; multi?: boolean }[] };
}

function dashboards(): { file: string; json: Dashboard; text: string }[] {
  return readdirSync(DASHBOARDS)
    .filter((f) => f.endsWith('.json'))
    .map((file) => {
      const text = readFileSync(path.join(DASHBOARDS, file), 'utf8');
      return { file, text, json: JSON.parse(text) as Dashboard };
    });
}

function panelsOf(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** Every PromQL expression in the dashboards (Prometheus-sourced targets only). */
function dashboardExprs(): { where: string; expr: string }[] {
  return dashboards().flatMap(({ file, json }) =>
    panelsOf(json).flatMap((p) =>
      (p.targets ?? [])
        .filter((t) => (t.datasource?.uid ?? p.datasource?.uid) === 'prometheus' && t.expr)
        .map((t) => ({ where: `${file}: ${p.title}`, expr: t.expr as string })),
    ),
  );
}

function alertExprs(): { where: string; expr: string }[] {
  const rules = readYaml<{ groups: { rules: { alert: string; expr: string }[] }[] }>(
    path.join(MONITORING, 'prometheus/alerts.yml'),
  );
  return rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: String(r.expr) })));
}

test('promtool accepts prometheus.yml and the alert rules it loads', async () => {
  // promtool stats credentials files; the metrics token exists only inside the compose container
  // (a secret), so the check runs on a copy that points at a stand-in, next to its alerts.yml.
  const dir = mkdtempSync(path.join(tmp, 'prom-'));
  const stand = path.join(dir, 'metrics_token');
  writeFileSync(stand, 'x'.repeat(32));
  const config = readFileSync(path.join(MONITORING, 'prometheus/prometheus.yml'), 'utf8');
  assert.ok(config.includes('/run/secrets/metrics_token'));
  writeFileSync(path.join(dir, 'prometheus.yml'), config.replaceAll('/run/secrets/metrics_token', stand));
  writeFileSync(path.join(dir, 'alerts.yml'), readFileSync(path.join(MONITORING, 'prometheus/alerts.yml')));
  const res = await promtool(['check', 'config', path.join(dir, 'prometheus.yml')]);
  assert.equal(res.code, 0, res.stdout + res.stderr);
  assert.match(res.stdout + res.stderr, /SUCCESS: \d+ rules found/);
});

test('every alert passes its promtool unit tests, and every alert has one', async () => {
  const res = await promtool(['test', 'rules', path.join(MONITORING, 'prometheus/alerts.test.yml')]);
  assert.equal(res.code, 0, res.stdout + res.stderr);
  const tests = readFileSync(path.join(MONITORING, 'prometheus/alerts.test.yml'), 'utf8');
  for (const { where } of alertExprs()) {
    const name = where.replace('alert ', '');
    assert.match(tests, new RegExp(`alertname: ${name}\\b`), `${name} has no unit test`);
  }
});

test('every dashboard query is valid PromQL (promtool check rules)', async () => {
  const exprs = dashboardExprs();
  assert.ok(exprs.length > 30, `only ${exprs.length} queries found`);
  const file = path.join(tmp, 'dashboard-queries.yml');
  const rules = exprs.map((e, i) => ({ record: `dashboard:query_${i}:check`, expr: withoutGrafanaVariables(e.expr) }));
  writeFileSync(file, stringify({ groups: [{ name: 'dashboards', rules }] }));
  const res = await promtool(['check', 'rules', file]);
  assert.equal(res.code, 0, res.stdout + res.stderr);
  assert.match(res.stdout, new RegExp(`SUCCESS: ${exprs.length} rules found`));
});

test('dashboards use only the provisioned data source uids, no DS_ placeholders, unique ids', () => {
  const uids = new Set<string>();
  for (const { file, json, text } of dashboards()) {
    assert.doesNotMatch(text, /\$\{DS_/, file);
    assert.ok(json.uid && !uids.has(json.uid), `${file}: missing or duplicate uid`);
    uids.add(json.uid);
    const ids = new Set<number>();
    for (const p of panelsOf(json)) {
      assert.ok(!ids.has(p.id), `${file}: duplicate panel id ${p.id}`);
      ids.add(p.id);
      if (p.type === 'row') continue;
      for (const ds of [p.datasource, ...(p.targets ?? []).map((t) => t.datasource)]) {
        assert.ok(ds?.uid && PROVISIONED_UIDS.has(ds.uid), `${file}: "${p.title}" uses data source ${ds?.uid}`);
      }
    }
  }
  assert.deepEqual([...uids].sort(), ['notes-api', 'notes-pipeline', 'notes-rabbitmq']);
});

test('every metric a dashboard or alert reads is exported by our registries or by RabbitMQ', async () => {
  const { api, consumer } = await exportedSeriesNames();
  const rabbit = rabbitmqMetricNames();
  const missing: string[] = [];
  const used = new Set<string>();
  for (const { where, expr } of [...dashboardExprs(), ...alertExprs()]) {
    const names = metricNamesIn(expr);
    assert.ok(names.length > 0, `${where}: no metric found in ${expr}`);
    for (const name of names) {
      used.add(name);
      const known = api.has(name) || consumer.has(name) || PROMETHEUS_SYNTHETIC.has(name) || rabbit.has(name);
      if (!known) missing.push(`${where}: ${name}`);
    }
  }
  assert.deepEqual(missing, []);
  // And the other way round: the pipeline's own metrics all appear somewhere.
  const unused = Object.values(METRICS).filter((m) => ![m, `${m}_bucket`].some((n) => used.has(n)));
  assert.deepEqual(unused, []);
});

test('every dashboard has a `node` variable, and every Prometheus selector is filtered by it', () => {
  for (const { file, json } of dashboards()) {
    const node = json.templating?.list.find((v) => v.name === 'node');
    assert.ok(node, `${file}: no node variable`);
    assert.equal(node.type, 'query');
    assert.match(node.definition ?? '', /^label_values\(up\{job=~?"[^"]+"\}, instance\)$/, file);
    assert.ok(node.includeAll && node.multi, `${file}: node should allow All and several`);
  }
  for (const { where, expr } of dashboardExprs()) {
    for (const name of metricNamesIn(expr)) {
      const uses = expr.split(new RegExp(`(?<![\\w:"])${name}(?![\\w:])`)).length - 1;
      const filtered = expr.split(`${name}{instance=~"$node"`).length - 1;
      assert.equal(filtered, uses, `${where}: ${name} is not filtered by $node in ${expr}`);
    }
  }
});

test('the metric-name extractor finds names and ignores functions, labels and keywords', () => {
  assert.deepEqual(
    metricNamesIn(
      'histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{job="api",route=~"/a|b"}[$__rate_interval])))',
    ),
    ['http_request_duration_seconds_bucket'],
  );
  assert.deepEqual(metricNamesIn('max(a_total) > 0 and sum(increase(b_total[5m])) == 0 or absent(up{job="x"} == 1)'), [
    'a_total',
    'b_total',
    'up',
  ]);
  assert.deepEqual(metricNamesIn('count(up{job="consumers"} == 1) or vector(0)'), ['up']);
});

test('Grafana provisioning: fixed uids, logs ↔ traces and exemplars linked, escaped $', () => {
  const file = path.join(MONITORING, 'grafana/provisioning/datasources/datasources.yml');
  const text = readFileSync(file, 'utf8');
  type Ds = { uid: string; type: string; url: string; jsonData?: Record<string, unknown> };
  const { datasources } = readYaml<{ datasources: Ds[] }>(file);
  const byUid = new Map(datasources.map((d) => [d.uid, d]));
  assert.deepEqual([...byUid.keys()].sort(), [...PROVISIONED_UIDS].sort());
  assert.equal(byUid.get('prometheus')?.type, 'prometheus');
  assert.equal(byUid.get('loki')?.type, 'loki');
  assert.equal(byUid.get('tempo')?.type, 'tempo');
  assert.equal(byUid.get('prometheus')?.url, 'http://prometheus:9090');
  assert.equal(byUid.get('loki')?.url, 'http://loki:3100');
  assert.equal(byUid.get('tempo')?.url, 'http://tempo:3200');

  const exemplars = byUid.get('prometheus')?.jsonData?.exemplarTraceIdDestinations as {
    name: string;
    datasourceUid: string;
  }[];
  assert.deepEqual(exemplars, [{ name: 'trace_id', datasourceUid: 'tempo' }]);
  const derived = byUid.get('loki')?.jsonData?.derivedFields as Record<string, string>[];
  assert.ok(
    derived.some((f) => f.datasourceUid === 'tempo' && f.matcherRegex === 'trace_id' && f.matcherType === 'label'),
  );
  const toLogs = byUid.get('tempo')?.jsonData?.tracesToLogsV2 as Record<string, string>;
  assert.equal(toLogs.datasourceUid, 'loki');
  // `$$` in the file is Grafana's escape for a literal `$`.
  assert.match(toLogs.query ?? '', /trace_id\s*=\s*"\$\$\{__trace\.traceId\}"/);
  // Grafana expands $VAR in provisioning files; its own ${__…} macros must be written $${__…}.
  assert.doesNotMatch(text.replace(/\$\$\{/g, ''), /\$\{__/);
});

test('the dashboard provider points where compose mounts the dashboards', () => {
  const { providers } = readYaml<{ providers: { type: string; options: { path: string } }[] }>(
    path.join(MONITORING, 'grafana/provisioning/dashboards/dashboards.yml'),
  );
  assert.equal(providers.length, 1);
  assert.equal(providers[0]?.type, 'file');
  const compose = readFileSync(path.join(MONITORING, '../docker-compose.yml'), 'utf8');
  assert.ok(compose.includes(`./monitoring/grafana/dashboards:${providers[0]?.options.path}:ro`));
});

test('Alloy ships traces to Tempo and logs to Loki, with ids as structured metadata only', () => {
  const alloy = readFileSync(path.join(MONITORING, 'alloy/config.alloy'), 'utf8');
  assert.match(alloy, /otelcol\.receiver\.otlp "\w+"[\s\S]*endpoint = "0\.0\.0\.0:4318"/);
  assert.match(alloy, /otelcol\.exporter\.otlp "\w+"[\s\S]*endpoint = "tempo:4317"/);
  assert.match(alloy, /url = "http:\/\/loki:3100\/loki\/api\/v1\/push"/);
  const labels = /stage\.labels \{([\s\S]*?)\n {2}\}/.exec(alloy)?.[1] ?? '';
  const metadata = /stage\.structured_metadata \{([\s\S]*?)\n {2}\}/.exec(alloy)?.[1] ?? '';
  for (const id of ['trace_id', 'span_id', 'request_id', 'job_id', 'note_id']) {
    assert.match(metadata, new RegExp(`\\b${id}\\b`), `${id} should be structured metadata`);
    assert.doesNotMatch(labels, new RegExp(`\\b${id}\\b`), `${id} must not be a label`);
  }
  // Braces balance (a cheap syntax check; Alloy itself runs only under compose).
  const code = alloy.replace(/\/\/.*$/gm, '').replace(/"(?:[^"\\]|\\.)*"/g, '""');
  assert.equal((code.match(/\{/g) ?? []).length, (code.match(/\}/g) ?? []).length);
});

test('Loki and Tempo configs parse and listen where the others expect them', () => {
  const loki = readYaml<{
    server: { http_listen_port: number };
    limits_config: { allow_structured_metadata: boolean };
  }>(path.join(MONITORING, 'loki/config.yml'));
  assert.equal(loki.server.http_listen_port, 3100);
  assert.equal(loki.limits_config.allow_structured_metadata, true);
  const tempo = readYaml<{
    server: { http_listen_port: number };
    distributor: { receivers: { otlp: { protocols: { grpc: { endpoint: string }; http: { endpoint: string } } } } };
  }>(path.join(MONITORING, 'tempo/config.yml'));
  assert.equal(tempo.server.http_listen_port, 3200);
  assert.equal(tempo.distributor.receivers.otlp.protocols.grpc.endpoint, '0.0.0.0:4317');
});

test('the Prometheus targets match the processes’ default ports', () => {
  type Scrape = {
    job_name: string;
    metrics_path?: string;
    static_configs?: { targets: string[] }[];
    dns_sd_configs?: { names: string[]; port: number }[];
  };
  const { scrape_configs } = readYaml<{ scrape_configs: Scrape[] }>(path.join(MONITORING, 'prometheus/prometheus.yml'));
  const job = (name: string) => scrape_configs.find((s) => s.job_name === name);
  // Every replica by DNS (the cluster profile's names too: api/test/compose-cluster.test.ts).
  const dns = (name: string) => job(name)?.dns_sd_configs?.[0];
  assert.deepEqual(dns('api'), { names: ['api', 'api-2'], type: 'A', port: 3000, refresh_interval: '15s' });
  assert.deepEqual(dns('consumers'), {
    names: ['consumers', 'consumers-2'],
    type: 'A',
    port: 9464,
    refresh_interval: '15s',
  });
  // The API's and consumers' /metrics answer only METRICS_TOKEN (docs/security.md).
  for (const name of ['api', 'consumers']) {
    assert.deepEqual((job(name) as { authorization?: unknown })?.authorization, {
      type: 'Bearer',
      credentials_file: '/run/secrets/metrics_token',
    });
  }
  assert.deepEqual(dns('rabbitmq'), {
    names: ['rabbitmq', 'rabbitmq-2', 'rabbitmq-3'],
    type: 'A',
    port: 15692,
    refresh_interval: '15s',
  });
  assert.equal(job('rabbitmq')?.metrics_path, '/metrics/per-object');
  const json = readJson<{ panels: unknown[] }>(path.join(DASHBOARDS, 'pipeline.json'));
  assert.ok(json.panels.length > 10);
});
