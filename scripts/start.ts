/**
 * `npm start`: runs the whole product on one machine. Checks that MariaDB, Redis and RabbitMQ
 * answer (else exits naming the one that doesn't and how to start it), builds the admin console
 * if it has not been built, then runs the API and the consumers as separate processes, so one can
 * die without the other. A process that dies is restarted with backoff; SIGTERM/SIGINT stops
 * them all within SHUTDOWN_TIMEOUT_MS.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { type Config, loadConfigOrExit } from '@notes/contracts';

const root = fileURLToPath(new URL('..', import.meta.url));
const log = (msg: string) => process.stdout.write(`[start] ${msg}\n`);

function reachable(url: string, defaultPort: number): Promise<boolean> {
  const u = new URL(url);
  const port = Number(u.port || defaultPort);
  return new Promise((resolve) => {
    const socket = net.connect({ host: u.hostname, port, timeout: 2000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

async function preflight(config: Config): Promise<void> {
  const services = [
    { name: 'MariaDB/MySQL', url: config.database.url, port: 3306, variable: 'DATABASE_URL' },
    { name: 'Redis', url: config.redis.url, port: 6379, variable: 'REDIS_URL' },
    { name: 'RabbitMQ', url: config.amqp.url, port: 5672, variable: 'AMQP_URL' },
  ];
  const down = [];
  for (const s of services) if (!(await reachable(s.url, s.port))) down.push(s);
  if (down.length) {
    for (const s of down) {
      const u = new URL(s.url);
      process.stderr.write(`${s.name} is not reachable at ${u.hostname}:${u.port || s.port} (${s.variable}).\n`);
    }
    process.stderr.write(
      'Start the local services with `bash scripts/services.sh`, or point the variables above at yours.\n',
    );
    process.exit(1);
  }
}

function buildAdminIfNeeded(): void {
  if (!existsSync(`${root}/admin/package.json`) || existsSync(`${root}/admin/dist/index.html`)) return;
  log('building the admin console (first start)');
  const r = spawnSync('npm', ['run', 'build', '-w', '@notes/admin'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write('building the admin console failed; the API will answer 503 at /admin\n');
  }
}

interface Managed {
  name: string;
  cwd: string;
  env: Record<string, string>;
  child: ChildProcess | null;
  restarts: number;
  startedAt: number;
}

let stopping = false;
const managed: Managed[] = [];

function launch(m: Managed): void {
  const telemetry = existsSync(`${m.cwd}/src/telemetry.ts`) ? ['--import', './src/telemetry.ts'] : [];
  m.startedAt = Date.now();
  m.child = spawn(process.execPath, ['--import', 'tsx', ...telemetry, 'src/main.ts'], {
    cwd: m.cwd,
    env: { ...process.env, ...m.env },
    stdio: 'inherit',
  });
  m.child.on('exit', (code, signal) => {
    m.child = null;
    if (stopping) return;
    // Backoff grows with quick successive deaths and resets after a minute of good health.
    if (Date.now() - m.startedAt > 60_000) m.restarts = 0;
    const delay = Math.min(500 * 2 ** m.restarts, 30_000);
    m.restarts++;
    log(`${m.name} exited (${signal ?? code}); restarting in ${delay} ms`);
    setTimeout(() => !stopping && launch(m), delay);
  });
}

async function waitForApi(config: Config): Promise<void> {
  const url = `http://${config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host}:${config.http.port}/health`;
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the API did not answer ${url} within 60 s`);
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  await preflight(config);
  buildAdminIfNeeded();

  const api: Managed = { name: 'api', cwd: `${root}/api`, env: {}, child: null, restarts: 0, startedAt: 0 };
  managed.push(api);
  launch(api);
  await waitForApi(config);
  log(`API on http://${config.http.host}:${config.http.port} (admin console at /admin, API docs at /docs)`);

  for (let i = 0; i < config.consumer.processes; i++) {
    // Each consumer process needs its own health/metrics port.
    const port = config.consumer.port === 0 ? 0 : config.consumer.port + i;
    const c: Managed = {
      name: `consumer-${i + 1}`,
      cwd: `${root}/consumers`,
      env: { CONSUMER_PORT: String(port) },
      child: null,
      restarts: 0,
      startedAt: 0,
    };
    managed.push(c);
    launch(c);
  }

  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    // Consumers first (they finish what they hold and report to the API), then the API.
    const byOrder = [...managed].reverse();
    for (const m of byOrder) m.child?.kill('SIGTERM');
    const force = setTimeout(() => {
      for (const m of managed) m.child?.kill('SIGKILL');
    }, config.shutdownTimeoutMs + 1000);
    force.unref();
    const poll = setInterval(() => {
      if (managed.every((m) => m.child === null)) {
        clearInterval(poll);
        process.exit(0);
      }
    }, 50);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((err) => {
  process.stderr.write(`start failed: ${err?.stack ?? err}\n`);
  for (const m of managed) m.child?.kill('SIGTERM');
  process.exit(1);
});
