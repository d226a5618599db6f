import type { FailureActions } from '../../dlq/index.ts';
import type { JobOperations } from '../../jobs/index.ts';
import type { AdminService } from '../admin-service.ts';

/**
 * What index.ts hands each admin resource plugin. Apart from index.ts, which imports the
 * plugins: taking it from there would close an import cycle (docs/architecture.md).
 */
export interface AdminRouteOptions {
  service: AdminService;
  /** Job detail, retry now, pause/resume (docs/jobs.md). */
  operations: JobOperations;
  /** The failure inbox (docs/jobs.md). */
  failures: FailureActions;
}
