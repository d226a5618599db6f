import type { AdminService } from '../../services/admin-service.ts';

/**
 * What index.ts hands each admin resource plugin. Apart from index.ts, which imports the
 * plugins: taking it from there would close an import cycle (docs/architecture.md).
 */
export interface AdminRouteOptions {
  service: AdminService;
}
