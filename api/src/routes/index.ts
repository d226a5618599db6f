import type { App, AppDeps } from '../app-types.ts';
import adminStatic from '../plugins/app/admin-static.ts';
import httpMetrics from '../plugins/app/http-metrics.ts';
import adminRoutes from './admin/index.ts';
import authRoutes from './auth/index.ts';
import eventRoutes from './events/index.ts';
import healthRoutes from './health/index.ts';
import internalRoutes from './internal/index.ts';
import noteRoutes from './notes/index.ts';
import webhookRoutes from './webhooks/index.ts';

/** Every route plugin, in one place. Each resource is one plugin under routes/<resource>/. */
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
