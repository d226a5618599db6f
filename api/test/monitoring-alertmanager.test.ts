import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { freePort, waitFor } from '@notes/contracts/testing';
import { stringify } from 'yaml';
import { MONITORING, ROOT, readYaml } from './monitoring-helpers.ts';

/**
 * Alerts reach someone (docs/operations.md): Alertmanager's config passes `amtool check-config`,
 * every alert routes to the operators' receiver with a runbook link that exists, and a real
 * Prometheus evaluating our alert rules, feeding a real Alertmanager started through the
 * compose entrypoint, delivers them to a local webhook (Debian's prometheus and
 * prometheus-alertmanager packages; no Docker needed).
 */
const run = promisify(execFile);
const AM_DIR = path.join(MONITORING, 'alertmanager');
const AM_CONFIG = path.join(AM_DIR, 'alertmanager.yml');
const ALERTS = path.join(MONITORING, 'prometheus/alerts.yml');
const PLACEHOLDER = 'http://alert-webhook.invalid/notes-pipeline';
const tmp = mkdtempSync(path.join(tmpdir(), 'alertmanager-'));
const children: ChildProcess[] = [];
let receiver: Server | null = null;

after(async () => {
  for (const child of children) await stop(child);
  await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
  rmSync(tmp, { recursive: true, force: true });
});

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
const rules = (): Rule[] => readYaml<{ groups: { rules: Rule[] }[] }>(ALERTS).groups.flatMap((g) => g.rules);

async function tool(bin: string, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(bin, args);
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const m of markdown.matchAll(/^#{1,6}\s+(.+?)\s*$/gm)) {
    anchors.add(
      (m[1] as string)
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-'),
    );
  }
  return anchors;
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function start(
  bin: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): { child: ChildProcess; log: () => string } {
  const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, log: () => log };
}

test('amtool accepts the Alertmanager config', async () => {
  const res = await tool('amtool', ['check-config', AM_CONFIG]);
  assert.equal(res.code, 0, res.out);
  assert.match(res.out, /SUCCESS/);
  assert.match(res.out, /1 receivers/);
});

test('every alert routes to the operators’ webhook and links to its runbook section', async () => {
  const config = readYaml<{
    route: { receiver: string };
    receivers: { name: string; webhook_configs?: { url: string; send_resolved?: boolean }[] }[];
  }>(AM_CONFIG);
  assert.deepEqual(
    config.receivers.map((r) => r.name),
    ['operators'],
  );
  assert.deepEqual(
    config.receivers[0]?.webhook_configs?.map((w) => w.url),
    [PLACEHOLDER],
  );
  assert.equal(config.receivers[0]?.webhook_configs?.[0]?.send_resolved, true);

  const anchors = anchorsOf(readFileSync(path.join(ROOT, 'docs/operations.md'), 'utf8'));
  const all = rules();
  assert.ok(all.length >= 8, `only ${all.length} alerts`);
  for (const rule of all) {
    const labels = [`alertname=${rule.alert}`, ...Object.entries(rule.labels).map(([k, v]) => `${k}=${v}`)];
    const res = await tool('amtool', ['config', 'routes', 'test', `--config.file=${AM_CONFIG}`, ...labels]);
    assert.equal(res.code, 0, res.out);
    assert.equal(
      res.out.split('\n').find((l) => l && !l.startsWith('Warning')),
      'operators',
      rule.alert,
    );

    assert.ok(['warning', 'critical'].includes(rule.labels.severity ?? ''), `${rule.alert}: severity`);
    const url = rule.annotations.runbook_url ?? '';
    const [file, anchor] = url.split('#');
    assert.equal(file, 'docs/operations.md', `${rule.alert}: runbook_url ${url}`);
    assert.ok(anchors.has(anchor ?? ''), `${rule.alert}: docs/operations.md has no section #${anchor}`);
  }
});

test('compose runs Alertmanager with the mounted config, and Prometheus sends to it', () => {
  type Service = {
    image: string;
    environment?: Record<string, string>;
    entrypoint?: string[];
    command?: string[];
    volumes?: string[];
    healthcheck?: { test: string[] };
  };
  const compose = readYaml<{ services: Record<string, Service> }>(path.join(ROOT, 'docker-compose.yml'));
  const am = compose.services.alertmanager;
  assert.ok(am, 'no alertmanager service');
  assert.match(am.image, /^prom\/alertmanager:v\d+\.\d+\.\d+$/);
  assert.equal(am.environment?.ALERT_WEBHOOK_URL, `\${ALERT_WEBHOOK_URL:-${PLACEHOLDER}}`);
  assert.deepEqual(am.entrypoint, ['/bin/sh', '/etc/alertmanager/entrypoint.sh']);
  for (const mount of [
    './monitoring/alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro',
    './monitoring/alertmanager/entrypoint.sh:/etc/alertmanager/entrypoint.sh:ro',
  ]) {
    assert.ok(am.volumes?.includes(mount), mount);
  }
  assert.ok(am.command?.includes('--web.listen-address=0.0.0.0:9093'));
  assert.match(JSON.stringify(am.healthcheck?.test), /127\.0\.0\.1:9093\/-\/ready/);

  const prom = readYaml<{ alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] } }>(
    path.join(MONITORING, 'prometheus/prometheus.yml'),
  );
  assert.deepEqual(prom.alerting.alertmanagers[0]?.static_configs[0]?.targets, ['alertmanager:9093']);
});

interface Notification {
  receiver: string;
  status: string;
  alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string> }[];
}

test('a real Prometheus with our rules reaches a webhook through a real Alertmanager', async () => {
  // The local webhook: what the operators' endpoint would receive.
  const received: Notification[] = [];
  const queries: string[] = [];
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://receiver');
      if (url.pathname === '/hook') {
        received.push(JSON.parse(body) as Notification);
        queries.push(url.search);
      }
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver?.listen(0, '127.0.0.1', resolve));
  const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook?source=notes&team=ops`;

  // Our config with shorter waits, so a test does not sit out group_wait (30 s) and `for` (minutes).
  const template = path.join(tmp, 'alertmanager.template.yml');
  writeFileSync(
    template,
    readFileSync(AM_CONFIG, 'utf8')
      .replace(/group_wait: \S+/, 'group_wait: 1s')
      .replace(/group_interval: \S+/, 'group_interval: 1s'),
  );
  const amPort = await freePort();
  const am = start(
    '/bin/sh',
    [
      path.join(AM_DIR, 'entrypoint.sh'),
      `--storage.path=${path.join(tmp, 'am-data')}`,
      `--web.listen-address=127.0.0.1:${amPort}`,
      '--cluster.listen-address=',
    ],
    {
      ...process.env,
      ALERT_WEBHOOK_URL: hook,
      ALERTMANAGER_TEMPLATE: template,
      ALERTMANAGER_CONFIG: path.join(tmp, 'alertmanager.rendered.yml'),
      ALERTMANAGER_BIN: 'prometheus-alertmanager',
    },
  );
  const amUrl = `http://127.0.0.1:${amPort}`;
  await waitFor(
    `Alertmanager ready (${am.log()})`,
    async () => (await fetch(`${amUrl}/-/ready`).catch(() => null))?.ok,
  );
  // The entrypoint put the URL in, `&` and all.
  assert.ok(readFileSync(path.join(tmp, 'alertmanager.rendered.yml'), 'utf8').includes(`url: '${hook}'`));

  // Our alert rules, `for` dropped. Nothing is scraped, so the "absent" alerts fire at once.
  const alerts = readYaml<{ groups: { name: string; rules: Rule[] }[] }>(ALERTS);
  for (const g of alerts.groups) for (const r of g.rules) delete r.for;
  writeFileSync(path.join(tmp, 'alerts.yml'), stringify(alerts));
  const promPort = await freePort();
  writeFileSync(
    path.join(tmp, 'prometheus.yml'),
    stringify({
      global: { evaluation_interval: '1s' },
      rule_files: ['alerts.yml'],
      alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${amPort}`] }] }] },
    }),
  );
  const prom = start('prometheus', [
    `--config.file=${path.join(tmp, 'prometheus.yml')}`,
    `--storage.tsdb.path=${path.join(tmp, 'prom-data')}`,
    `--web.listen-address=127.0.0.1:${promPort}`,
    // Alerts evaluated before Alertmanager is discovered are dropped; resend soon, not in 1 min.
    '--rules.alert.resend-delay=1s',
  ]);

  const delivered = await waitFor(
    'NotesApiDown and NotesConsumersAbsent at the webhook',
    () => {
      const byName = new Map(received.flatMap((n) => n.alerts.map((a) => [a.labels.alertname, { n, a }] as const)));
      return byName.has('NotesApiDown') && byName.has('NotesConsumersAbsent') ? byName : null;
    },
    60_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\nprometheus: ${prom.log().slice(-1500)}\nalertmanager: ${am.log().slice(-1500)}`);
  });
  assert.equal(queries[0], '?source=notes&team=ops', 'the query string survived the entrypoint');
  const down = delivered.get('NotesApiDown');
  assert.equal(down?.n.receiver, 'operators');
  assert.equal(down?.a.status, 'firing');
  assert.equal(down?.a.labels.severity, 'critical');
  assert.equal(down?.a.annotations.runbook_url, 'docs/operations.md#notesapidown');
  assert.equal(down?.a.annotations.summary, 'The API is not answering /metrics');

  // "No consumers on notes.jobs" fires too, but is inhibited by "no consumer process is up".
  type AmAlert = { labels: Record<string, string>; status: { state: string; inhibitedBy: string[] } };
  const queueAlert = await waitFor('NotesNoConsumersOnWorkQueue in Alertmanager', async () => {
    const list = (await (await fetch(`${amUrl}/api/v2/alerts`)).json()) as AmAlert[];
    return list.find((a) => a.labels.alertname === 'NotesNoConsumersOnWorkQueue');
  });
  assert.equal(queueAlert.status.state, 'suppressed');
  assert.equal(queueAlert.status.inhibitedBy.length, 1);
  assert.ok(!received.some((n) => n.alerts.some((a) => a.labels.alertname === 'NotesNoConsumersOnWorkQueue')));
});
