import type { App, AppDeps } from '../app.ts';
import healthRoutes from './health/index.ts';

/** Every route plugin, in one place. Each resource is one plugin under routes/<resource>/. */
export async function registerRoutes(app: App, deps: AppDeps): Promise<void> {
  await app.register(healthRoutes, deps);
}
