import type { App, AppDeps } from './app-types.ts';
import adminRoutes from './modules/admin/routes/index.ts';
import authRoutes from './modules/auth/routes.ts';
import eventRoutes from './modules/events/routes.ts';
import healthRoutes from './modules/health/routes.ts';
import internalRoutes from './modules/jobs/routes.ts';
import noteRoutes from './modules/notes/routes.ts';
import webhookRoutes from './modules/webhooks/routes.ts';
import adminStatic from './platform/http/admin-static.ts';
import httpMetrics from './platform/http/http-metrics.ts';
import type { Services } from './wiring.ts';

/** Every route plugin, in one place, each given what it uses. A module's routes are modules/<name>/routes.ts (admin: modules/admin/routes/). */
export async function registerRoutes(app: App, deps: AppDeps, services: Services): Promise<void> {
  await app.register(httpMetrics, deps);
  await app.register(healthRoutes, deps);
  await app.register(adminRoutes, {
    config: deps.config,
    service: services.admin,
    operations: services.jobOperations,
    failures: services.failures,
  });
  await app.register(adminStatic, {});
  await app.register(authRoutes, { auth: services.auth });
  await app.register(noteRoutes, { notes: services.notes });
  await app.register(internalRoutes, { callbacks: services.jobCallbacks, operations: services.jobOperations });
  await app.register(webhookRoutes, { webhooks: services.webhooks });
  await app.register(eventRoutes, { config: deps.config, redis: deps.redis, slots: services.streamSlots });
}
