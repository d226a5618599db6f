import { loadConfigOrExit, shutdownTelemetry } from '@notes/contracts';
import { ConsumerProcess } from './consumer-process.ts';
import { HandlerRegistryError } from './handlers/registry.ts';

/**
 * The consumer process: config → consumer → health server; SIGTERM/SIGINT stop taking work,
 * finish and ack what is held, and exit within SHUTDOWN_TIMEOUT_MS (a timer forces the exit if
 * something hangs; unacked messages simply return to the queue).
 */
function main(): void {
  const config = loadConfigOrExit(process.env, { component: 'consumers' });
  let service: ConsumerProcess;
  try {
    service = new ConsumerProcess(config);
  } catch (err) {
    if (err instanceof HandlerRegistryError) {
      process.stderr.write(`consumer refused to start: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const { logger } = service;
  if (config.service.signsWithDevKey) {
    logger.warn('SERVICE_PRIVATE_KEY is not set: signing callbacks with the development key (docs/security.md)');
  }

  let shuttingDown = false;
  const shutdown = (signal: string, code = 0) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs).unref();
    service
      .stop()
      .then(() => shutdownTelemetry())
      .then(
        () => process.exit(code),
        (err) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  // A bug must not leave a half-dead consumer holding messages: log, stop, and let the supervisor restart us.
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception');
    shutdown('uncaughtException', 1);
  });
  process.on('unhandledRejection', (err) => {
    logger.fatal({ err }, 'unhandled rejection');
    shutdown('unhandledRejection', 1);
  });

  service.start().catch((err) => {
    logger.fatal({ err }, 'consumer failed to start');
    process.exit(1);
  });
}

main();
