import { JOB_KINDS, JOB_STATUSES, NOTE_STATUSES, PRIORITIES } from '@notes/contracts/wire';

/** Choices for filters and inputs, from the enums the API validates with (contracts). */
const choices = (values: readonly string[]) => values.map((v) => ({ id: v, name: v }));

export { JOB_KINDS, JOB_STATUSES, NOTE_STATUSES, PRIORITIES };
/** The roles an admin may give (UserPatch): `service` is the consumers' identity, never a user's. */
export const ROLES = ['user', 'admin'] as const;
export const AUDIT_ACTIONS = ['dlq.promote', 'dlq.discard', 'user.update'] as const;

export const noteStatusChoices = choices(NOTE_STATUSES);
export const jobStatusChoices = choices(JOB_STATUSES);
export const priorityChoices = choices(PRIORITIES);
export const kindChoices = choices(JOB_KINDS);
export const roleChoices = choices(ROLES);
export const auditActionChoices = choices(AUDIT_ACTIONS);
