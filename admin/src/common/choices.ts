/** Choices for filters and inputs; the API's enums (api/src/db/schema.ts, contracts). */
const choices = (values: readonly string[]) => values.map((v) => ({ id: v, name: v }));

export const NOTE_STATUSES = ['queued', 'processing', 'processed', 'failed', 'dead'] as const;
export const JOB_STATUSES = ['queued', 'processing', 'processed', 'failed', 'dead', 'discarded', 'skipped'] as const;
export const PRIORITIES = ['low', 'normal', 'high', 'critical', 'max'] as const;
export const JOB_KINDS = ['note.process', 'webhook.deliver'] as const;
export const ROLES = ['user', 'admin'] as const;
export const AUDIT_ACTIONS = ['dlq.promote', 'dlq.discard', 'user.update'] as const;

export const noteStatusChoices = choices(NOTE_STATUSES);
export const jobStatusChoices = choices(JOB_STATUSES);
export const priorityChoices = choices(PRIORITIES);
export const kindChoices = choices(JOB_KINDS);
export const roleChoices = choices(ROLES);
export const auditActionChoices = choices(AUDIT_ACTIONS);
