/**
 * The enums every wire format and the database share: the API's tables store them
 * (api/src/platform/db/schema.ts builds its column enums from these lists), the callbacks, the admin
 * API and the console show them.
 */
export const ROLES = ['user', 'admin', 'service'] as const;
export type Role = (typeof ROLES)[number];
export const NOTE_STATUSES = ['queued', 'processing', 'processed', 'failed', 'dead'] as const;
export type NoteStatus = (typeof NOTE_STATUSES)[number];
export const JOB_STATUSES = ['queued', 'processing', 'processed', 'failed', 'dead', 'discarded', 'skipped'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
