import type { App, AppDeps } from '../../app-types.ts';
import { AdminService } from '../../services/admin-service.ts';
import consoleConfigRoutes from './console-config.ts';
import dlqRoutes from './dlq.ts';
import jobRoutes from './jobs.ts';
import noteRoutes from './notes.ts';
import opsRoutes from './ops.ts';
import type { AdminRouteOptions } from './route-options.ts';
import userRoutes from './users.ts';

/**
 * The admin API under /api/admin (contract 7 and 11), one plugin per resource. The role check
 * runs on `onRequest`, before validation, so a user learns nothing about an admin route's
 * parameters: no token → 401, a non-admin → 403.
 */
export default async function adminRoutes(app: App, deps: AppDeps) {
  const service = new AdminService({
    config: deps.config,
    database: deps.database,
    amqp: deps.amqp,
    logger: deps.logger,
    forgetUserState: (id) => app.forgetUserState(id),
  });
  await app.register(
    async (admin: App) => {
      admin.addHook('onRequest', admin.requireRole('admin'));
      const opts: AdminRouteOptions = { service };
      await admin.register(noteRoutes, opts);
      await admin.register(jobRoutes, opts);
      await admin.register(dlqRoutes, opts);
      await admin.register(userRoutes, opts);
      await admin.register(opsRoutes, opts);
      await admin.register(consoleConfigRoutes, { config: deps.config });
    },
    { prefix: '/api/admin' },
  );
}
