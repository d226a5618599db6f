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

/** Every route plugin, in one place. Each module registers its own under modules/<name>/routes.ts (admin: modules/admin/routes/). */
export async function registerRoutes(app: App, deps: AppDeps): Promise<void> {
  await app.register(httpMetrics, deps);
  await app.register(healthRoutes, deps);
  await app.register(adminRoutes, deps);
  await app.register(adminStatic, {});
  await app.register(authRoutes, deps);
  await app.register(noteRoutes, deps);
  await app.register(internalRoutes, deps);
  await app.register(webhookRoutes, deps);
  await app.register(eventRoutes, deps);
}
