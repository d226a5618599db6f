import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { CONFIG_VARIABLES, loadConfig } from '@notes/contracts';
import { MONITORING, ROOT, readYaml } from './monitoring-helpers.ts';

/**
 * docker-compose.yml cannot run on this machine (no Docker engine), so what can be checked
 * without it is checked here: pinned images, healthchecks, dependency conditions, mounted files,
 * ports and environment consistent with contracts/src/config.ts, and the Dockerfiles.
 */
interface Healthcheck {
  test: string[] | string;
}
interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  healthcheck?: Healthcheck;
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
  secrets?: string[];
}
interface Compose {
  name: string;
  services: Record<string, Service>;
  secrets?: Record<string, { environment?: string }>;
  volumes: Record<string, unknown>;
  'x-healthcheck-exempt'?: Record<string, string>;
}

const compose = readYaml<Compose>(path.join(ROOT, 'docker-compose.yml'));
const services = Object.entries(compose.services);
const defaults = loadConfig({});

/** Compose's ${VAR:-default} and ${VAR:?error} as compose would resolve them with VAR unset (required ones get a stand-in). */
function interpolate(value: string): string {
  return (
    value
      .replace(/\$\{(\w+):-([^}]*)\}/g, (_m, _name, def: string) => def)
      // 43 characters: also the form of a base64url Ed25519 key (SERVICE_*_KEY*).
      .replace(/\$\{(\w+):\?[^}]*\}/g, () => 'x'.repeat(43))
  );
}

/** Variable names the config module reads (the keys of its schema). */
function configVariables(): Set<string> {
  return new Set(CONFIG_VARIABLES.map((v) => v.name));
}

test('every image is pinned to a version, never latest or untagged', () => {
  for (const [name, s] of services) {
    if (s.build) {
      assert.ok(existsSync(path.join(ROOT, s.build.context, s.build.dockerfile)), `${name}: Dockerfile missing`);
      continue;
    }
    assert.ok(s.image, `${name} has no image`);
    const tag = s.image.split(':')[1];
    assert.ok(tag && tag !== 'latest' && /\d/.test(tag), `${name}: image ${s.image} is not pinned`);
  }
});

test('every long-running service has a healthcheck; the exceptions say why', () => {
  const exempt = compose['x-healthcheck-exempt'] ?? {};
  for (const [name, s] of services) {
    if (name in exempt) {
      assert.ok((exempt[name] ?? '').length > 20, `${name}: the exemption needs a reason`);
      assert.equal(s.healthcheck, undefined, `${name} is exempt but has a healthcheck`);
      continue;
    }
    assert.ok(s.healthcheck?.test, `${name} has no healthcheck`);
  }
});

test('depends_on uses conditions that can be met', () => {
  for (const [name, s] of services) {
    for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
      const target = compose.services[dep];
      assert.ok(target, `${name} depends on unknown ${dep}`);
      assert.ok(
        ['service_started', 'service_healthy', 'service_completed_successfully'].includes(condition),
        `${name} → ${dep}: ${condition}`,
      );
      if (condition === 'service_healthy') assert.ok(target.healthcheck, `${name} waits for ${dep} to be healthy`);
    }
  }
  const needs = (a: string, b: string, condition: string) =>
    assert.equal(compose.services[a]?.depends_on?.[b]?.condition, condition, `${a} → ${b}`);
  for (const dep of ['mariadb', 'redis', 'rabbitmq']) needs('api', dep, 'service_healthy');
  needs('consumers', 'rabbitmq', 'service_healthy');
  needs('consumers', 'api', 'service_healthy');
});

test('every mounted file or directory exists, and named volumes are declared', () => {
  for (const [name, s] of services) {
    for (const volume of s.volumes ?? []) {
      const [source] = volume.split(':') as [string];
      if (source.startsWith('./')) {
        assert.ok(existsSync(path.join(ROOT, source)), `${name}: ${source} does not exist`);
      } else if (!source.startsWith('/')) {
        assert.ok(source in compose.volumes, `${name}: volume ${source} is not declared`);
      }
    }
  }
});

test('config files given on command lines are mounted', () => {
  for (const [name, s] of services) {
    const targets = (s.volumes ?? []).map((v) => v.split(':')[1]);
    for (const arg of [...(s.command ?? []), ...(s.entrypoint ?? [])]) {
      const file = /^(?:-+config\.file=|--config\.file=)?(\/etc\/\S+\.(?:ya?ml|alloy))$/.exec(arg)?.[1];
      if (file) assert.ok(targets.includes(file), `${name}: ${file} is not mounted`);
    }
  }
  // prometheus.yml loads alerts.yml relative to itself: both must sit side by side.
  const prom = compose.services.prometheus?.volumes ?? [];
  assert.ok(prom.includes('./monitoring/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro'));
  assert.ok(prom.includes('./monitoring/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro'));
});

test('api and consumer environment is valid config, with ports matching the code and Prometheus', () => {
  const known = configVariables();
  assert.ok(known.has('DATABASE_URL') && known.has('OTEL_EXPORTER_OTLP_ENDPOINT'));
  for (const name of ['api', 'consumers']) {
    const env = compose.services[name]?.environment ?? {};
    for (const key of Object.keys(env)) assert.ok(known.has(key), `${name}: ${key} is not a config variable`);
    const resolved = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, interpolate(String(v))]));
    // As each process loads it: the API refuses to start without its secrets on 0.0.0.0.
    const config = loadConfig(resolved, { component: name === 'api' ? 'api' : 'consumers' });
    assert.equal(config.env, 'production');
    assert.equal(config.consumer.port, defaults.consumer.port);
    assert.equal(config.otlpEndpoint, 'http://alloy:4318');
    assert.equal(config.amqp.url, 'amqp://notes:notes@rabbitmq:5672');
    assert.equal(config.consumer.apiUrl, `http://api:${defaults.http.port}`);
    assert.equal(config.http.host, '0.0.0.0', `${name} must listen on all interfaces inside its container`);
  }
  const api = loadConfig(
    Object.fromEntries(Object.entries(compose.services.api?.environment ?? {}).map(([k, v]) => [k, interpolate(v)])),
    { component: 'api' },
  );
  assert.equal(api.http.port, defaults.http.port);
  assert.deepEqual(compose.services.api?.ports, [`127.0.0.1:${defaults.http.port}:${defaults.http.port}`]);
  const health = JSON.stringify(compose.services.api?.healthcheck?.test);
  assert.ok(health.includes(`127.0.0.1:${defaults.http.port}/health`));
  const consumerHealth = JSON.stringify(compose.services.consumers?.healthcheck?.test);
  assert.ok(consumerHealth.includes(`127.0.0.1:${defaults.consumer.port}/health`));
  assert.equal(compose.services.consumers?.deploy?.replicas, 2);
  assert.equal(compose.services.consumers?.ports, undefined, 'replicas cannot share a host port');
});

test('each process gets only its own secrets; Prometheus gets the metrics token', () => {
  const api = compose.services.api?.environment ?? {};
  const consumers = compose.services.consumers?.environment ?? {};
  for (const key of ['JWT_SECRET', 'SERVICE_PUBLIC_KEYS', 'METRICS_TOKEN']) assert.ok(api[key], `api: ${key}`);
  assert.equal(api.SERVICE_PRIVATE_KEY, undefined, 'the API cannot sign service tokens');
  assert.ok(consumers.SERVICE_PRIVATE_KEY && consumers.METRICS_TOKEN);
  assert.equal(consumers.JWT_SECRET, undefined, 'a consumer cannot sign user or admin tokens');
  assert.ok(compose.services.prometheus?.secrets?.includes('metrics_token'));
  assert.equal(compose.secrets?.metrics_token?.environment, 'METRICS_TOKEN');
});

test('published ports bind to loopback and do not collide', () => {
  const seen = new Set<string>();
  for (const [name, s] of services) {
    for (const port of s.ports ?? []) {
      assert.match(port, /^127\.0\.0\.1:\d+:\d+$/, `${name}: ${port}`);
      const host = port.split(':')[1] as string;
      assert.ok(!seen.has(host), `${name}: host port ${host} used twice`);
      seen.add(host);
    }
  }
});

test('the broker enables the prometheus plugin Prometheus scrapes', () => {
  const plugins = readFileSync(path.join(MONITORING, 'rabbitmq/enabled_plugins'), 'utf8');
  assert.match(plugins, /^\[.*\brabbitmq_prometheus\b.*\]\.\s*$/);
  assert.match(plugins, /\brabbitmq_management\b/);
  assert.equal(compose.name, 'notes-pipeline');
  // Alloy selects containers by this project name.
  assert.ok(
    readFileSync(path.join(MONITORING, 'alloy/config.alloy'), 'utf8').includes(
      '"com.docker.compose.project=notes-pipeline"',
    ),
  );
});

for (const workspace of ['api', 'consumers']) {
  test(`${workspace}/Dockerfile: pinned base, npm ci, non-root, telemetry preload before main`, () => {
    const file = readFileSync(path.join(ROOT, workspace, 'Dockerfile'), 'utf8');
    const base = /^ARG NODE_IMAGE=(\S+)$/m.exec(file)?.[1] ?? '';
    assert.match(base, /^node:\d+\.\d+\.\d+-[a-z]+-slim$/);
    assert.ok(
      file
        .split('\n')
        .filter((l) => l.startsWith('FROM '))
        .every((l) => /^FROM \$\{NODE_IMAGE\} AS \w+$/.test(l)),
      'every stage uses the pinned base',
    );
    assert.match(file, /npm ci .*--workspace=@notes\/contracts/);
    assert.match(file, new RegExp(`--workspace=@notes/${workspace}\\b`));
    assert.match(file, /^USER node$/m);
    // The esbuild bundle (scripts/build.ts), as npm start runs it; built-entry.test.ts runs this CMD.
    assert.match(
      file,
      /^CMD \["node", "--max-old-space-size=\d+", (?:"--max-semi-space-size=\d+", )?"--import", "\.\/dist\/telemetry\.js", "dist\/main\.js"\]$/m,
    );
    assert.match(file, new RegExp(`^RUN node --import tsx scripts/build\\.ts ${workspace}$`, 'm'));
    assert.ok(existsSync(path.join(ROOT, workspace, 'src/telemetry.ts')));
  });
}

test('.dockerignore keeps host node_modules and build output out of the context', () => {
  const ignore = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
  for (const entry of ['**/node_modules', '**/dist', '.git', '.env']) assert.ok(ignore.includes(entry), entry);
});
