import { type AttemptReport, currentTraceparent } from '@notes/contracts';
import type { Ctx } from './delivery-context.ts';
import { coerceError } from './errors.ts';

/** The job's trace (its consume span is active while the flow runs). */
export function traceReport(): Pick<AttemptReport, 'trace_id'> {
  const traceId = currentTraceparent()?.slice(3, 35);
  return traceId && /^[0-9a-f]{32}$/.test(traceId) && !/^0+$/.test(traceId) ? { trace_id: traceId } : {};
}

/** What the API keeps of a finished attempt (docs/jobs.md, "Attempts"). */
export function attemptReport(ctx: Ctx, http?: { status: number; excerpt: string }): AttemptReport {
  const report: AttemptReport = { ...traceReport() };
  if (ctx.startedAt) {
    report.started_at = ctx.startedAt.toISOString();
    report.duration_ms = Math.max(0, Date.now() - ctx.startedAt.getTime());
  }
  if (http && http.status >= 100 && http.status <= 999) {
    report.http_status = http.status;
    if (http.excerpt) report.response_excerpt = http.excerpt;
  }
  return report;
}

/** The attempt report of a failure: its class, and a webhook endpoint's answer when there was one. */
export function failureReport(ctx: Ctx, err: unknown): AttemptReport {
  const details = (err as { details?: { status?: unknown; excerpt?: unknown } } | null)?.details;
  const status = typeof details?.status === 'number' ? details.status : undefined;
  const excerpt = typeof details?.excerpt === 'string' ? details.excerpt : '';
  const report = attemptReport(ctx, status ? { status, excerpt } : undefined);
  const name = coerceError(err)
    .name.replace(/[^\w.$-]/g, '')
    .slice(0, 100);
  if (name) report.error_class = name;
  return report;
}
