import type {
  AdminConsoleConfig,
  ControlList,
  ControlRow,
  FailureActionResult,
  FailureGroups,
  FailureSelection,
  JobKind,
  RetryResult,
} from '@notes/contracts';
import type { ApiClient } from './http.ts';

/**
 * The admin API's day-2 operations (docs/operations.md), beside react-admin's CRUD methods:
 * retry now, the failure inbox's promote/discard, pause/resume per kind, the console's settings.
 */
export interface Operations {
  retryJob(id: string): Promise<RetryResult>;
  failureGroups(kind?: JobKind): Promise<FailureGroups>;
  failureAction(action: 'promote' | 'discard', request: FailureSelection): Promise<FailureActionResult>;
  controls(): Promise<ControlList>;
  setPaused(kind: JobKind, paused: boolean): Promise<ControlRow | undefined>;
  consoleConfig(): Promise<AdminConsoleConfig>;
}

const enc = encodeURIComponent;

export function createOperations(api: ApiClient): Operations {
  return {
    retryJob: (id) => api<RetryResult>(`/api/admin/jobs/${enc(id)}/retry`, { method: 'POST', body: {} }),
    failureGroups: (kind) => api<FailureGroups>('/api/admin/failures', { query: { kind } }),
    failureAction: (action, request) =>
      api<FailureActionResult>(`/api/admin/failures/${action}`, { method: 'POST', body: request }),
    controls: () => api<ControlList>('/api/admin/control'),
    setPaused: (kind, paused) =>
      api<ControlRow | undefined>(`/api/admin/control/${enc(kind)}`, { method: 'PUT', body: { paused } }),
    consoleConfig: () => api<AdminConsoleConfig>('/api/admin/config'),
  };
}
