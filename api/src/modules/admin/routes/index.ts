import type { Config } from '@notes/contracts';
import type { App } from '../../../app-types.ts';
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
export default async function adminRoutes(app: App, deps: AdminRouteOptions & { config: Config }) {
  const { service, operations, failures } = deps;
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
