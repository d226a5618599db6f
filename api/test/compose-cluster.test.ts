import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig, workQueueNames } from '@notes/contracts';
import { MONITORING, ROOT, readYaml } from './monitoring-helpers.ts';

/**
 * The compose file's cluster profile (docs/scaling.md), checked without a Docker engine as
 * monitoring-compose.test.ts checks the rest: three RabbitMQ nodes that form one cluster, two
 * APIs behind a proxy whose config names them, more consumers, deploy/compose-cluster.vars switching every
 * process to the three nodes and quorum queues, and Prometheus discovering every replica.
 */
interface Service {
  image?: string;
  build?: unknown;
  hostname?: string;
  profiles?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
}
const compose = readYaml<{ services: Record<string, Service>; volumes: Record<string, unknown> }>(
  path.join(ROOT, 'docker-compose.yml'),
);
const svc = (name: string): Service => {
  const s = compose.services[name];
  assert.ok(s, `service ${name} is missing`);
  return s;
};
const clusterEnv = Object.fromEntries(
  readFileSync(path.join(ROOT, 'deploy', 'compose-cluster.vars'), 'utf8')
    .split('\n')
    .filter((l) => /^[A-Z_]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
);

/** ${VAR:-default} resolved with `vars` first (as compose does with --env-file), required ones stood in. */
function resolve(env: Record<string, string>, vars: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).map(([k, v]) => [
      k,
      String(v)
        .replace(/\$\{(\w+):-([^}]*)\}/g, (_m, name: string, def: string) => vars[name] ?? def)
        // 43 characters: also the form of a base64url Ed25519 key (SERVICE_*_KEY*).
        .replace(/\$\{(\w+):\?[^}]*\}/g, () => 'x'.repeat(43)),
    ]),
  );
}

const RABBITS = ['rabbitmq', 'rabbitmq-2', 'rabbitmq-3'];

test('three RabbitMQ nodes: one image, one cookie, each its own data volume, the extra two join the first', () => {
  const first = svc('rabbitmq');
  assert.equal(first.profiles, undefined, 'the first node also serves the single-node stack');
  const conf = readFileSync(path.join(ROOT, 'deploy/rabbitmq/cluster.conf'), 'utf8');
  const listed = [...conf.matchAll(/^cluster_formation\.classic_config\.nodes\.\d+ = rabbit@(\S+)$/gm)].map(
    (m) => m[1],
  );
  assert.deepEqual(listed, RABBITS, 'cluster.conf names every node by its hostname');
  assert.match(conf, /^cluster_partition_handling = pause_minority$/m);
  const data = new Set<string>();
  for (const name of RABBITS) {
    const s = svc(name);
    assert.equal(s.image, first.image, `${name}: same RabbitMQ version on every node`);
    assert.equal(s.hostname, name, `${name}: the node name comes from the hostname`);
    assert.equal(s.environment?.RABBITMQ_ERLANG_COOKIE, first.environment?.RABBITMQ_ERLANG_COOKIE);
    assert.ok(s.environment?.RABBITMQ_ERLANG_COOKIE, 'a shared Erlang cookie');
    const volume = (s.volumes ?? []).find((v) => v.endsWith(':/var/lib/rabbitmq'))?.split(':')[0] ?? '';
    assert.ok(volume in compose.volumes && !data.has(volume), `${name}: a data volume of its own`);
    data.add(volume);
    assert.ok(s.healthcheck?.test, `${name}: healthcheck`);
    if (name !== 'rabbitmq') {
      assert.deepEqual(s.profiles, ['cluster']);
      assert.ok(s.volumes?.includes('./deploy/rabbitmq/cluster.conf:/etc/rabbitmq/conf.d/20-cluster.conf:ro'));
      assert.equal(s.depends_on?.rabbitmq?.condition, 'service_healthy', `${name} joins a running first node`);
    }
  }
});

test('deploy/compose-cluster.vars turns on the profile and points every process at all three nodes with quorum queues', () => {
  assert.equal(clusterEnv.COMPOSE_PROFILES, 'cluster');
  for (const name of ['api', 'api-2', 'consumers', 'consumers-2']) {
    const config = loadConfig(resolve(svc(name).environment ?? {}, clusterEnv));
    assert.equal(config.amqp.queueType, 'quorum', `${name}: quorum is the cluster's default`);
    assert.deepEqual(
      config.amqp.urls.map((u) => new URL(u).hostname),
      RABBITS,
      `${name}: every node in AMQP_URL`,
    );
    assert.equal(config.http.host, '0.0.0.0', `${name}: reachable from Prometheus and the proxy`);
  }
  // Without deploy/compose-cluster.vars the same file is the single-node, classic stack.
  const single = loadConfig(resolve(svc('api').environment ?? {}, {}));
  assert.equal(single.amqp.queueType, 'classic');
  assert.deepEqual(single.amqp.urls, ['amqp://notes:notes@rabbitmq:5672']);
  assert.equal(workQueueNames('quorum').length, 5);
});

test('two APIs behind the proxy, which names both and passes event streams unbuffered', () => {
  const api = svc('api');
  const api2 = svc('api-2');
  assert.deepEqual(api2.profiles, ['cluster']);
  assert.equal(api2.image, api.image, 'the same build');
  assert.equal(api2.ports, undefined, 'reached through the proxy only');
  assert.deepEqual(
    Object.keys(api2.environment ?? {}).sort(),
    Object.keys(api.environment ?? {})
      .filter((k) => !k.startsWith('ADMIN_'))
      .sort(),
  );
  const proxy = svc('proxy');
  assert.deepEqual(proxy.profiles, ['cluster']);
  assert.match(proxy.image ?? '', /^nginx:\d+\.\d+\.\d+/);
  assert.deepEqual(proxy.ports, ['127.0.0.1:8080:8080']);
  const mount = (proxy.volumes ?? [])[0]?.split(':')[0] ?? '';
  assert.ok(existsSync(path.join(ROOT, mount)), `${mount} exists`);
  const conf = readFileSync(path.join(ROOT, mount), 'utf8');
  const upstreams = [...conf.matchAll(/^\s*server (\S+):(\d+)/gm)].map((m) => `${m[1]}:${m[2]}`);
  assert.deepEqual(upstreams, ['api:3000', 'api-2:3000']);
  assert.match(conf, /listen 8080;/);
  assert.match(conf, /location \/api\/events \{[^}]*proxy_buffering off;/s);
  for (const dep of ['api', 'api-2']) assert.equal(proxy.depends_on?.[dep]?.condition, 'service_healthy');
});

test('more consumers, and Prometheus discovers every replica of every service by DNS', () => {
  const more = svc('consumers-2');
  assert.deepEqual(more.profiles, ['cluster']);
  assert.equal(more.image, svc('consumers').image);
  assert.ok((more.deploy?.replicas ?? 1) + (svc('consumers').deploy?.replicas ?? 1) >= 3, 'several consumers');
  type Scrape = { job_name: string; dns_sd_configs?: { names: string[]; port: number }[] };
  const prom = readYaml<{ scrape_configs: Scrape[] }>(path.join(MONITORING, 'prometheus/prometheus.yml'));
  const names = (job: string) => prom.scrape_configs.find((s) => s.job_name === job)?.dns_sd_configs?.[0]?.names ?? [];
  const replicated = Object.entries(compose.services).filter(
    ([, s]) => s.build || s.image?.startsWith('notes-pipeline/'),
  );
  for (const [name, s] of replicated) {
    const job = s.image?.includes('/api') ? 'api' : 'consumers';
    assert.ok(names(job).includes(name), `Prometheus job ${job} discovers ${name}`);
  }
  assert.deepEqual(names('rabbitmq'), RABBITS);
});
