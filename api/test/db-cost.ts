/**
 * What MariaDB does per note over a note's whole life, in counts the machine's load does not
 * move (README, "Performance"): InnoDB logical page reads and writes, redo bytes, handler row
 * operations, statements, and the server's CPU. Not a test: run it by hand against a MariaDB of
 * your own with nothing else on it (its counters are server-wide), e.g.
 *
 *   TEST_MYSQL_SERVER_URL=mysql://root@127.0.0.1:3317/ MARIADB_PID=<its pid> N=3000 \
 *     node --import tsx test/db-cost.ts
 *
 * The API runs in-process on a namespace of its own (Redis and RabbitMQ as the tests use them):
 * N notes of the bench's kind are created 64 at a time through POST /api/notes (group commit as
 * under load) and both relays publish them; then every job is started and completed through
 * POST /internal/jobs/callbacks in batches of 33, as the consumers send them; each step waits
 * for InnoDB's purge, so its work is counted. A first, smaller round warms the caches.
 * `ALTER="stmt;stmt"` runs statements on the namespace's database first (e.g. to drop an index
 * and see what it costs).
 */
import { readFileSync } from 'node:fs';
import { signServiceToken } from '@notes/contracts';
import { sql } from 'drizzle-orm';
import { createConnection } from 'mysql2/promise';
import { newUser } from './auth-helpers.ts';
import { startTestApp } from './helpers.ts';
import { RESULT } from './internal-fixtures.ts';

const N = Number(process.env.N ?? 2000);
const server = process.env.TEST_MYSQL_SERVER_URL;
if (!server) throw new Error('TEST_MYSQL_SERVER_URL: a MariaDB server of your own (its counters are global)');
const mariadbPid = process.env.MARIADB_PID;
const STATUS = [
  'Innodb_buffer_pool_read_requests',
  'Innodb_buffer_pool_write_requests',
  'Innodb_lsn_current',
  'Handler_write',
  'Handler_update',
  'Handler_delete',
  'Questions',
] as const;
type Counts = Record<(typeof STATUS)[number] | 'cpuTicks', number>;

const admin = await createConnection(server);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function counts(): Promise<Counts> {
  const [rows] = await admin.query('SHOW GLOBAL STATUS');
  const m = { cpuTicks: 0 } as Counts;
  for (const r of rows as { Variable_name: string; Value: string }[]) {
    if ((STATUS as readonly string[]).includes(r.Variable_name)) m[r.Variable_name as keyof Counts] = Number(r.Value);
  }
  if (mariadbPid) {
    const stat = readFileSync(`/proc/${mariadbPid}/stat`, 'utf8').split(' ');
    m.cpuTicks = Number(stat[13]) + Number(stat[14]);
  }
  return m;
}

/** Until InnoDB's purge has caught up (its work belongs to the step that caused it). */
async function purged(): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const [rows] = await admin.query("SHOW GLOBAL STATUS LIKE 'Innodb_history_list_length'");
    if (Number((rows as { Value: string }[])[0]?.Value) <= 5) break;
    await sleep(100);
  }
  await sleep(300);
}

async function scalar(query: string): Promise<number> {
  const [rows] = await admin.query(query);
  return Number(Object.values((rows as Record<string, unknown>[])[0] ?? {})[0]);
}

async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

const t = await startTestApp('dbcost', { USER_WRITE_RATE: '0' });
for (const statement of (process.env.ALTER ?? '').split(';').filter(Boolean)) {
  await t.deps.database.db.execute(sql.raw(statement));
}
const db = t.ns.databaseName;
const users = await Promise.all(Array.from({ length: 8 }, (_, i) => newUser(t.app, `c${i}`)));
const service = signServiceToken(t.deps.config.service.privateKey);
const WORDS = 'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma'.split(
  ' ',
);
let seed = 7;
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
/** 300–2,000 characters, a few #tags and a link, as the bench writes. */
function body(): string {
  const length = 300 + Math.floor(random() * 1700);
  let text = '';
  while (text.length < length) text += `${WORDS[Math.floor(random() * WORDS.length)]} `;
  return `${text}#tag${Math.floor(random() * 9)} #x see https://example.com/p/${Math.floor(random() * 1e6)} end.`;
}
const PRIORITIES = ['normal', 'normal', 'normal', 'normal', 'normal', 'normal', 'normal', 'high', 'high', 'low'];

/** Until both relays have published everything. */
async function relayed(): Promise<void> {
  while ((await scalar(`SELECT COUNT(*) FROM \`${db}\`.outbox WHERE sent_at IS NULL`)) > 0) await sleep(200);
  while ((await scalar(`SELECT COUNT(*) FROM \`${db}\`.live_events`)) > 0) await sleep(200);
}

async function callbacks(payload: Record<string, unknown>): Promise<void> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/internal/jobs/callbacks',
    headers: { authorization: `Bearer ${service}` },
    payload,
  });
  if (res.statusCode !== 200) throw new Error(`callbacks: ${res.statusCode} ${res.body}`);
}

/** One note's whole life for n notes; the counts after each step when measured. */
async function lifecycle(n: number, measure: boolean): Promise<[string, Counts][]> {
  const steps: [string, Counts][] = [];
  const mark = async (name: string) => {
    if (!measure) return;
    await purged();
    steps.push([name, await counts()]);
  };
  await mark('start');
  await pool(
    Array.from({ length: n }, (_, i) => i),
    64,
    async (i) => {
      const user = users[i % users.length]!;
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/notes',
        headers: { authorization: `Bearer ${user.token}` },
        payload: { title: `Note ${i} ${WORDS[i % WORDS.length]}`, body: body(), priority: PRIORITIES[i % 10] },
      });
      if (res.statusCode !== 201) throw new Error(`create: ${res.statusCode} ${res.body}`);
    },
  );
  await relayed();
  await mark('create + relays');
  const [rows] = await admin.query(`SELECT id FROM \`${db}\`.jobs WHERE status = 'queued' AND kind = 'note.process'`);
  const ids = (rows as { id: string }[]).map((r) => r.id);
  const batches: string[][] = [];
  for (let i = 0; i < ids.length; i += 33) batches.push(ids.slice(i, i + 33));
  await mark('(reading the job ids)');
  await pool(batches, 2, (b) => callbacks({ start: b.map((job_id) => ({ job_id, attempt: 1, first_copy: true })) }));
  await mark('start');
  await pool(batches, 2, (b) =>
    callbacks({ complete: b.map((job_id) => ({ job_id, attempt: 1, result: RESULT, duration_ms: 3 })) }),
  );
  await relayed();
  await mark('complete + events');
  return steps;
}

await lifecycle(300, false);
const steps = await lifecycle(N, true);
const line = (name: string, d: Counts) =>
  `${name.padEnd(18)} reads ${(d.Innodb_buffer_pool_read_requests / N).toFixed(1)}  writes ${(d.Innodb_buffer_pool_write_requests / N).toFixed(1)}  redo ${(d.Innodb_lsn_current / N / 1024).toFixed(2)} KB  rows written/updated/deleted ${(d.Handler_write / N).toFixed(2)}/${(d.Handler_update / N).toFixed(2)}/${(d.Handler_delete / N).toFixed(2)}  statements ${(d.Questions / N).toFixed(2)}${mariadbPid ? `  CPU ${((d.cpuTicks * 10) / N).toFixed(3)} ms` : ''}`;
const total = Object.fromEntries([...STATUS, 'cpuTicks'].map((k) => [k, 0])) as Counts;
console.log(`per note, ${N} notes (CPU in 10 ms ticks, so rough below a few thousand notes)`);
for (let i = 1; i < steps.length; i++) {
  const [name, after] = steps[i]!;
  const before = steps[i - 1]![1];
  const d = Object.fromEntries(
    Object.keys(after).map((k) => [k, after[k as keyof Counts] - before[k as keyof Counts]]),
  );
  if (name.startsWith('(')) continue;
  for (const k of Object.keys(total) as (keyof Counts)[]) total[k] += (d as Counts)[k];
  console.log(line(name, d as Counts));
}
console.log(line('whole life', total));
await t.close();
await admin.end();
process.exit(0);
