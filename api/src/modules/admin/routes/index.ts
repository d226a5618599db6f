import type { App, AppDeps } from '../../../app-types.ts';
import { ServiceUnavailableError } from '../../../platform/errors/index.ts';
import { FailureActions, FailureInbox } from '../../dlq/index.ts';
import { JobOperations } from '../../jobs/index.ts';
import { AdminService } from '../admin-service.ts';
import consoleConfigRoutes from './console-config.ts';
import controlRoutes from './control.ts';
import dlqRoutes from './dlq.ts';
import failureRoutes from './failures.ts';
import jobRoutes from './jobs.ts';
import noteRoutes from './notes.ts';
import opsRoutes from './ops.ts';
import type { AdminRouteOptions } from './route-options.ts';
import userRoutes from './users.ts';
import webhookRoutes from './webhooks.ts';

/**
 * The admin API under /api/admin (docs/operations.md and docs/api.md), one plugin per resource. The role check
 * runs on `onRequest`, before validation, so a user learns nothing about an admin route's
 * parameters: no token → 401, a non-admin → 403.
 */
export default async function adminRoutes(app: App, deps: AppDeps) {
  const connection = () => {
    const conn = deps.amqp.connection;
    if (!conn) throw new ServiceUnavailableError('RabbitMQ is not connected; try again in a moment.');
    return conn;
  };
  const inbox = new FailureInbox({ config: deps.config, database: deps.database, logger: deps.logger, connection });
  const service = new AdminService({
    config: deps.config,
    database: deps.database,
    amqp: deps.amqp,
    logger: deps.logger,
    inbox,
    forgetUserState: (id) => app.forgetUserState(id),
  });
  const operations = new JobOperations({
    config: deps.config,
    database: deps.database,
    logger: deps.logger,
    connection: () => deps.amqp.connection,
  });
  const failures = new FailureActions(inbox);
  await app.register(
    async (admin: App) => {
      admin.addHook('onRequest', admin.requireRole('admin'));
      const opts: AdminRouteOptions = { service, operations, failures };
      await admin.register(noteRoutes, opts);
      await admin.register(jobRoutes, opts);
      await admin.register(dlqRoutes, opts);
      await admin.register(userRoutes, opts);
      await admin.register(webhookRoutes, opts);
      await admin.register(opsRoutes, opts);
      await admin.register(failureRoutes, opts);
      await admin.register(controlRoutes, opts);
      await admin.register(consoleConfigRoutes, { config: deps.config });
    },
    { prefix: '/api/admin' },
  );
}
