/** What other modules may import from this one (docs/architecture.md); the rest of the folder is private to it. */
export { recordAudit } from './audit-service.ts';
