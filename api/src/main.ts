import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfigOrExit, shutdownTelemetry } from '@notes/contracts';
import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.ts';
import { AdminBootstrapRefusedError, ensureAdmin } from './modules/auth/admin-bootstrap.ts';
import { migrateDatabase } from './platform/db/client.ts';
import { EmailCollisionError } from './platform/db/email-normalisation.ts';
import { createDeps } from './wiring.ts';

const DRAIN_MS = 1000;

/** The API process: config → migrations → clients and relays → admin bootstrap → workers → app → listen; closes in reverse. */
async function main() {
  const config = loadConfigOrExit(process.env, { component: 'api' });
  await migrateDatabase(config);
  const deps = await createDeps(config);
  await ensureAdmin(config, deps.database, deps.logger);
  deps.startWorkers();
  // Only on a loopback HOST outside production (config.ts refuses elsewhere): docs/security.md.
  if (config.auth.usingDevSecret) deps.logger.warn('JWT_SECRET is not set: using the development secret');
  if (config.service.acceptsDevKey) {
    deps.logger.warn('SERVICE_PUBLIC_KEYS is not set: accepting the development service key');
  }
  const app = await buildApp(deps);

  closeWithGrace({ delay: config.shutdownTimeoutMs }, async ({ signal, err }) => {
    if (err) deps.logger.error({ err }, 'closing after an error');
    else deps.logger.info({ signal }, 'shutting down');
    // Drain first: for a moment every answer says `Connection: close`, so clients stop reusing
    // keep-alive sockets before the server closes the idle ones (a request already on its way
    // down an idle socket would otherwise meet a reset, not an answer).
    app.startDraining();
    await sleep(Math.min(DRAIN_MS, config.shutdownTimeoutMs / 4));
    await app.close();
    await deps.close();
    await shutdownTelemetry();
  });

  await app.listen({ host: config.http.host, port: config.http.port });
}

main().catch((err) => {
  // Refusals an operator must act on are said plainly; anything else with its stack.
  const plain = err instanceof AdminBootstrapRefusedError || err instanceof EmailCollisionError;
  process.stderr.write(`api failed to start: ${plain ? err.message : (err?.stack ?? err)}\n`);
  process.exit(1);
});
