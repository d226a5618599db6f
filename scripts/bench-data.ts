/**
 * `npm run bench:data` (also `npm run bench -- --data N`): the data benchmark (docs/data.md).
 * Starts the product in a scratch namespace, seeds N notes (one user owning one in five) and
 * 2N jobs straight into its database, then times every list, search and stats request a user
 * and the console make — three runs each, the median — prints a table and removes everything
 * it made. With `--keep NAME` the seeded database stays (named NAME) and `--reuse NAME` times
 * it again without seeding. `--help` for flags.
 *
 * Exit codes: 0 done (whether or not every target was met: the table says); 1 failed; 2 bad usage.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';
import { ApiClient } from './lib/api-client.ts';
import { COMMON_WORD, EVERY_WORD, RARE_WORD, seed, tableSizes } from './lib/data-seed.ts';
import { describeMachine } from './lib/machine.ts';
import { startProduct } from './lib/product.ts';

const log = (line: string) => process.stderr.write(`[bench:data] ${line}\n`);

export const DATA_USAGE = `usage: npm run bench:data -- [flags]   (or: npm run bench -- --data N)
  --notes N       notes to seed (default 5000000)
  --heavy N       notes of the one heavy user (default 200000, at most notes / 2)
  --jobs N        jobs to seed (default 2 × notes)
  --keep NAME     seed into the database NAME and keep it (drop it with DROP DATABASE NAME)
  --reuse NAME    time the database NAME that an earlier --keep seeded; no seeding
  --runs N        runs of each request; the median is reported (default 3)
  --batch N       rows per INSERT … SELECT (default 100000)
  --json          print one JSON object instead of the table`;

interface DataOptions {
  notes: number;
  heavy: number;
  jobs: number;
  keep: string | null;
  reuse: string | null;
  runs: number;
  batch: number;
  json: boolean;
}

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${value}`);
  return n;
}

export function parseDataArgs(argv: string[]): DataOptions | null {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      data: { type: 'string' },
      notes: { type: 'string' },
      jobs: { type: 'string' },
      heavy: { type: 'string' },
      keep: { type: 'string' },
      reuse: { type: 'string' },
      runs: { type: 'string' },
      batch: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (v.help) return null;
  const notes = positive('notes', v.notes ?? v.data, 5_000_000);
  const heavy = positive('heavy', v.heavy, Math.min(200_000, Math.ceil(notes / 5)));
  if (heavy > notes / 2) throw new Error(`--heavy must be at most half of --notes, got ${heavy}`);
  for (const name of [v.keep, v.reuse])
    if (name !== undefined && !/^[a-z][a-z0-9_]{0,63}$/.test(name))
      throw new Error(`a database name is lower-case letters, digits and _, got ${name}`);
  if (v.keep && v.reuse) throw new Error('--keep and --reuse do not go together');
  return {
    notes,
    heavy,
    keep: v.keep ?? null,
    reuse: v.reuse ?? null,
    jobs: positive('jobs', v.jobs, notes * 2),
    runs: positive('runs', v.runs, 3),
    batch: positive('batch', v.batch, 100_000),
    json: v.json ?? false,
  };
}

/** Registers the account, or signs in when a kept database already has it. */
async function account(client: ApiClient, email: string, password: string): Promise<string> {
  const res = await client.request<{ token: string }>('POST', '/api/auth/register', {
    body: { name: email.split('@')[0], email, password },
  });
  if (res.status === 201 && res.body?.token) return res.body.token;
  const login = await client.request<{ token: string }>('POST', '/api/auth/login', { body: { email, password } });
  if (login.status !== 200 || !login.body?.token)
    throw new Error(`signing in ${email}: HTTP ${res.status} then ${login.status} ${JSON.stringify(login.body)}`);
  return login.body.token;
}

interface Timed {
  request: string;
  who: 'user' | 'console';
  medianMs: number;
  runsMs: number[];
  status: number;
  targetMs: number;
}

/** Past this, a request is timed once (its row says `1 run`). */
const SLOW_MS = 5_000;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function time(
  client: ApiClient,
  token: string,
  runs: number,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<{ runsMs: number[]; status: number; json: unknown }> {
  const runsMs: number[] = [];
  let status = 0;
  let json: unknown = null;
  for (let i = 0; i < runs; i++) {
    const started = process.hrtime.bigint();
    const res = await client.request<unknown>(method, path, { token, body });
    runsMs.push(Number(process.hrtime.bigint() - started) / 1e6);
    status = res.status;
    json = res.body;
    // A request 50× over its target is reported from its one run: repeating it proves nothing.
    if ((runsMs[0] ?? 0) > SLOW_MS) break;
  }
  return { runsMs, status, json };
}

async function measure(client: ApiClient, user: string, admin: string, heavyEmail: string, opts: DataOptions) {
  const results: Timed[] = [];
  const run = async (
    who: Timed['who'],
    path: string,
    targetMs = 100,
    method: 'GET' | 'POST' = 'GET',
    body?: unknown,
  ) => {
    const r = await time(client, who === 'user' ? user : admin, opts.runs, method, path, body);
    results.push({
      request: `${method} ${path}`,
      who,
      medianMs: median(r.runsMs),
      runsMs: r.runsMs,
      status: r.status,
      targetMs,
    });
    log(`${method} ${path}: ${r.status}, ${r.runsMs.map((ms) => ms.toFixed(1)).join(' / ')} ms`);
    return r.json as { next_cursor?: string | null; data?: { id: string }[] } | null;
  };
  const first = await run('user', '/api/notes?limit=20');
  for (const sort of ['title', '-updated_at', 'priority', '-status'])
    await run('user', `/api/notes?limit=20&sort=${sort}`);
  await run('user', '/api/notes?limit=20&status=dead');
  await run('user', '/api/notes?limit=20&priority=high&sort=title');
  await run('user', `/api/notes?limit=20&q=${RARE_WORD}`);
  await run('user', `/api/notes?limit=20&q=${COMMON_WORD}`);
  await run('user', `/api/notes?limit=20&q=${EVERY_WORD}`);
  await run('user', '/api/notes?limit=20&q=zep');
  const deep = await run('user', '/api/notes?limit=20&offset=1000');
  if (deep?.next_cursor) await run('user', `/api/notes?limit=20&cursor=${deep.next_cursor}`);
  if (first?.data?.[0]) await run('user', `/api/notes/${first.data[0].id}`);
  await run('user', '/api/notes?limit=20&offset=1001', 100);

  const adminFirst = await run('console', '/api/admin/notes?limit=25');
  if (adminFirst?.next_cursor) await run('console', `/api/admin/notes?limit=25&cursor=${adminFirst.next_cursor}`);
  await run('console', '/api/admin/notes?limit=25&sort=title');
  await run('console', '/api/admin/notes?limit=25&status=dead');
  await run('console', `/api/admin/notes?limit=25&q=${RARE_WORD}`);
  await run('console', `/api/admin/notes?limit=25&user=${encodeURIComponent(heavyEmail)}`);
  const jobsFirst = await run('console', '/api/admin/jobs?limit=25');
  if (jobsFirst?.next_cursor) await run('console', `/api/admin/jobs?limit=25&cursor=${jobsFirst.next_cursor}`);
  await run('console', '/api/admin/jobs?limit=25&status=failed');
  await run('console', '/api/admin/jobs?limit=25&status=processed&sort=-finished_at');
  await run('console', '/api/admin/jobs?limit=25&kind=webhook.deliver');
  await run('console', '/api/admin/jobs?limit=25&sort=priority');
  await run('console', '/api/admin/jobs?limit=25&q=timeout');
  if (first?.data?.[0]) await run('console', `/api/admin/jobs?limit=25&note_id=${first.data[0].id}`);
  await run('console', '/api/admin/dlq?limit=25');
  await run('console', '/api/admin/dlq?limit=25&q=upstream');
  await run('console', '/api/admin/users?limit=25');
  await run('console', '/api/admin/audit?limit=25');
  await run('console', '/api/admin/stats', 50);
  await run('console', '/api/admin/queues');
  await run('user', '/api/notes', 100, 'POST', { title: 'written during the data benchmark', body: `a ${RARE_WORD}` });
  return results;
}

function formatTable(results: Timed[], header: string[], opts: DataOptions): string {
  const rows = results.map((r) => [
    r.who,
    r.request.length > 78 ? `${r.request.slice(0, 75)}…` : r.request,
    String(r.status),
    r.runsMs.length === 1 && r.runsMs.length < opts.runs ? `${r.medianMs.toFixed(1)} (1 run)` : r.medianMs.toFixed(1),
    `≤ ${r.targetMs}`,
    r.medianMs <= r.targetMs ? 'yes' : 'NO',
  ]);
  const head = ['who', 'request', 'status', 'median ms', 'target', 'met'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [...header, '', line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export async function runDataBench(argv: string[]): Promise<number> {
  let opts: DataOptions | null;
  try {
    opts = parseDataArgs(argv);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${DATA_USAGE}\n`);
    return 2;
  }
  if (!opts) {
    process.stdout.write(`${DATA_USAGE}\n`);
    return 0;
  }
  const machine = await describeMachine();
  const named = opts.keep ?? opts.reuse;
  const server = process.env.TEST_MYSQL_SERVER_URL ?? 'mysql://root@127.0.0.1:3306/';
  // The seeded history spans 200 days: retention (docs/operations.md) would start pruning it
  // while the requests are timed. Both limits reach past it.
  const env: Record<string, string> = { JOB_RETENTION_HOURS: '87600', DEAD_RETENTION_DAYS: '3650' };
  if (named) {
    const root = await mysql.createConnection({ uri: server });
    const [found] = await root.query('SHOW DATABASES LIKE ?', [named]);
    if (opts.reuse && !(found as unknown[]).length) {
      await root.end();
      process.stderr.write(`--reuse ${named}: no such database (seed it with --keep ${named})\n`);
      return 2;
    }
    if (opts.keep && (found as unknown[]).length) {
      await root.end();
      process.stderr.write(`--keep ${named}: the database exists (time it with --reuse, or drop it)\n`);
      return 2;
    }
    await root.query(`CREATE DATABASE IF NOT EXISTS \`${named}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    await root.end();
    env.DATABASE_URL = `${server.replace(/\/$/, '')}/${named}`;
  }
  log(`starting the product in a scratch namespace${named ? ` on the database ${named}` : ''}`);
  const product = await startProduct({ consumers: 1, env, log });
  const stop = async (signal: NodeJS.Signals) => {
    log(`${signal}: removing what the benchmark made`);
    await product.stop().catch(() => {});
    process.exit(130);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const client = new ApiClient(product.url, 4);
  const databaseUrl = env.DATABASE_URL ?? (product.databaseUrl as string);
  const db = await mysql.createConnection({ uri: databaseUrl });
  try {
    // Fixed accounts, so that a kept database is timed again as the same users.
    const heavyEmail = 'heavy@data-bench.test';
    const user = await account(client, heavyEmail, 'data-bench-heavy-pw');
    const admin = await account(client, 'admin@data-bench.test', 'data-bench-admin-pw');
    await db.query("UPDATE users SET role = 'admin' WHERE email = 'admin@data-bench.test'");
    const [[heavy]] = (await db.query('SELECT id FROM users WHERE email = ?', [heavyEmail])) as unknown as [
      { id: string }[],
    ];
    const started = Date.now();
    let lastLog = 0;
    if (opts.reuse) {
      const [[counted]] = (await db.query(
        "SELECT SUM(IF(tbl = 'notes', n, 0)) AS notes, SUM(IF(tbl = 'jobs', n, 0)) AS jobs FROM status_counts",
      )) as unknown as [{ notes: number; jobs: number }[]];
      opts.notes = Number(counted?.notes ?? 0);
      opts.jobs = Number(counted?.jobs ?? 0);
      log(`reusing ${named}: ${opts.notes.toLocaleString('en')} notes, ${opts.jobs.toLocaleString('en')} jobs`);
    } else {
      await seed(
        db,
        {
          notes: opts.notes,
          jobs: opts.jobs,
          heavyUserId: heavy?.id as string,
          heavyEvery: Math.max(2, Math.floor(opts.notes / opts.heavy)),
          otherUsers: 1000,
          batch: opts.batch,
        },
        (what, done, total) => {
          if (Date.now() - lastLog > 15_000 || done === total) {
            lastLog = Date.now();
            log(
              `seeded ${done.toLocaleString('en')} / ${total.toLocaleString('en')} ${what} (${((Date.now() - started) / 1000).toFixed(0)} s)`,
            );
          }
        },
        (line) => log(`${line} (${((Date.now() - started) / 1000).toFixed(0)} s)`),
      );
    }
    const seedS = (Date.now() - started) / 1000;
    const sizes = await tableSizes(db, new URL(databaseUrl).pathname.slice(1));
    const [[pool]] = (await db.query('SELECT @@innodb_buffer_pool_size AS b')) as unknown as [{ b: number }[]];
    const results = await measure(client, user, admin, heavyEmail, opts);
    const gib = (b: number | undefined) => `${((b ?? 0) / 2 ** 30).toFixed(2)} GiB`;
    const header = [
      `Data benchmark: ${opts.notes.toLocaleString('en')} notes (one user owns ${opts.heavy.toLocaleString('en')}), ` +
        `${opts.jobs.toLocaleString('en')} jobs; median of ${opts.runs} runs per request`,
      `machine: ${machine.cpus} CPUs, ${machine.memGiB} GiB, MariaDB ${machine.mariadb ?? '?'}, ` +
        `buffer pool ${gib(Number(pool?.b))}; notes ${gib(sizes.notes)}, jobs ${gib(sizes.jobs)}, job_errors ${gib(sizes.job_errors)} (data + indexes); ${opts.reuse ? `reused ${opts.reuse}` : `seeded in ${seedS.toFixed(0)} s`}`,
      `load average at the end: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(', ')}`,
    ];
    process.stdout.write(
      opts.json
        ? `${JSON.stringify({ machine, opts, seedS, sizes, bufferPool: Number(pool?.b), results })}\n`
        : `\n${formatTable(results, header, opts)}\n`,
    );
    return 0;
  } finally {
    await db.end().catch(() => {});
    await client.close();
    log(named ? `removing the scratch namespace; the database ${named} stays` : 'removing the scratch namespace');
    await product.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runDataBench(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`bench:data failed: ${err?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
