import type {
  AdminConsoleConfig,
  ControlList,
  FailureActionRequest,
  FailureActionResult,
  FailureGroupList,
  JobKind,
  KindControl,
  RetryJobResponse,
} from '@notes/contracts/admin';
import type { ApiClient } from './http.ts';

/**
 * The admin API's day-2 operations (docs/operations.md), beside react-admin's CRUD methods:
 * retry now, the failure inbox's promote/discard, pause/resume per kind, the console's settings.
 */
export interface Operations {
  retryJob(id: string): Promise<RetryJobResponse>;
  failureGroups(kind?: JobKind): Promise<FailureGroupList>;
  failureAction(action: 'promote' | 'discard', request: FailureActionRequest): Promise<FailureActionResult>;
  controls(): Promise<ControlList>;
  setPaused(kind: JobKind, paused: boolean): Promise<KindControl | undefined>;
  consoleConfig(): Promise<AdminConsoleConfig>;
}

const enc = encodeURIComponent;

export function createOperations(api: ApiClient): Operations {
  return {
    retryJob: (id) => api<RetryJobResponse>(`/api/admin/jobs/${enc(id)}/retry`, { method: 'POST', body: {} }),
    failureGroups: (kind) => api<FailureGroupList>('/api/admin/failures', { query: { kind } }),
    failureAction: (action, request) =>
      api<FailureActionResult>(`/api/admin/failures/${action}`, { method: 'POST', body: request }),
    controls: () => api<ControlList>('/api/admin/control'),
    setPaused: (kind, paused) =>
      api<KindControl | undefined>(`/api/admin/control/${enc(kind)}`, { method: 'PUT', body: { paused } }),
    consoleConfig: () => api<AdminConsoleConfig>('/api/admin/config'),
  };
}
