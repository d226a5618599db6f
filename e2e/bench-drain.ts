/**
 * `npm run bench:drain -w @notes/e2e -- [--notes N] [--consumers K] [--queue-type classic|quorum]`:
 * how fast K consumer processes drain a backlog (docs/scaling.md). Writes N notes through the
 * real API with no consumer running, waits until the outbox has published them all, then starts
 * K consumers and times until every note is processed. The write path is left out, so the figure
 * is the consumers' (and the API's callback side), not MariaDB's write rate.
 */
import { parseArgs } from 'node:util';
import { waitFor } from '@notes/contracts/testing';
import { registerUsers, request } from './src/http.ts';
import { startProduct } from './src/product.ts';

const { values } = parseArgs({
  options: {
    notes: { type: 'string', default: '1500' },
    consumers: { type: 'string', default: '1' },
    'queue-type': { type: 'string', default: 'classic' },
  },
});
const N = Number(values.notes);
const K = Number(values.consumers);
const product = await startProduct('drain', {
  env: { QUEUE_TYPE: values['queue-type'] ?? 'classic', LOG_LEVEL: 'error', USER_WRITE_RATE: '0' },
});
try {
  await product.startApi();
  const users = await registerUsers(product.apiUrl, 8, 'drain');
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < N) {
        const i = next++;
        const user = users[i % users.length]!;
        const res = await request(product.apiUrl, 'POST', '/api/notes', {
          token: user.token,
          body: { title: `drain ${i}`, body: `backlog note ${i} #drain see https://example.com/${i}` },
        });
        if (res.status !== 201) throw new Error(`write ${i}: ${res.status} ${res.text}`);
      }
    }),
  );
  await waitFor(
    'the outbox published',
    async () => (await product.count('SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL')) === 0,
    120_000,
  );
  const started = performance.now();
  await Promise.all(Array.from({ length: K }, () => product.startConsumer()));
  const ready = performance.now();
  await waitFor(
    'every note processed',
    async () => (await product.count("SELECT COUNT(*) FROM notes WHERE status = 'processed'")) === N,
    600_000,
    100,
  );
  // From the first result to the last, as the database recorded them (process start-up left out).
  const [span] = await product.query<{ s: number }>(
    'SELECT TIMESTAMPDIFF(MICROSECOND, MIN(processed_at), MAX(processed_at)) / 1e6 AS s FROM notes',
  );
  const seconds = Number(span?.s ?? (performance.now() - ready) / 1000);
  process.stdout.write(
    `${JSON.stringify({ queue_type: values['queue-type'], consumers: K, notes: N, seconds: Math.round(seconds * 10) / 10, notes_per_s: Math.round(N / seconds), startup_s: Math.round((ready - started) / 100) / 10 })}\n`,
  );
} finally {
  await product.close();
}
