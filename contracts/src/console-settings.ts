import { type Static, type TSchema, Type } from '@sinclair/typebox';

/**
 * What the admin console learns of the server's settings (GET /api/admin/config), and the one
 * place a trace link is made from TRACE_URL_TEMPLATE (docs/operations.md). Browser-safe: the
 * console imports `@notes/contracts/console`.
 */
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const AdminConsoleConfig = Type.Object({
  /** A trace viewer URL with `{trace_id}` in it, or null when none is configured. */
  trace_url_template: Nullable(Type.String()),
});
export type AdminConsoleConfig = Static<typeof AdminConsoleConfig>;

/** The trace viewer link for one trace id, or null without a template or an id. */
export function traceUrl(template: string | null | undefined, traceId: string | null | undefined): string | null {
  if (!template || !traceId) return null;
  return template.replaceAll('{trace_id}', encodeURIComponent(traceId));
}
