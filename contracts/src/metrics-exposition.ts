import { type Metric, type OpenMetricsContentType, Registry } from 'prom-client';

export interface Exposition {
  contentType: string;
  body: string;
}

/** What prom-client's metric objects are at runtime (its .d.ts types them loosely). */
interface RuntimeMetric {
  name: string;
  type: string;
  get(): Promise<{ name: string; type: string }>;
}

/**
 * Renders a registry for a scrape, negotiating the format by the `Accept` header: OpenMetrics
 * when asked for (Prometheus asks for it first, and only OpenMetrics carries exemplars, the
 * trace ids that link a latency bucket to Tempo), else the classic text format (curl, promtool).
 *
 * prom-client fixes the format per registry, and rendering OpenMetrics renames counters in place
 * (it strips `_total` from the metric object), which would corrupt the next text-format scrape.
 * So OpenMetrics is rendered through a throw-away registry of thin views over the real metrics:
 * same values, nothing of the real registry is changed.
 */
export async function renderMetrics(registry: Registry, accept: string | undefined): Promise<Exposition> {
  if (!wantsOpenMetrics(accept)) {
    return { contentType: Registry.PROMETHEUS_CONTENT_TYPE, body: await registry.metrics() };
  }
  // The .d.ts declares no constructor argument; at runtime it selects the format.
  const OmRegistry = Registry as unknown as new (contentType: string) => Registry<OpenMetricsContentType>;
  const om = new OmRegistry(Registry.OPENMETRICS_CONTENT_TYPE);
  for (const metric of registry.getMetricsAsArray() as unknown as RuntimeMetric[]) {
    const view: RuntimeMetric & { reset(): void } = {
      name: metric.name,
      type: metric.type,
      async get() {
        const data = await metric.get();
        return metric.type === 'counter' ? { ...data, name: data.name.replace(/_total$/, '') } : data;
      },
      reset() {},
    };
    om.registerMetric(view as unknown as Metric);
  }
  // Default labels (e.g. service="api") live on the registry, not on the metrics.
  const defaults = (registry as unknown as { _defaultLabels?: Record<string, string> })._defaultLabels;
  if (defaults) om.setDefaultLabels(defaults);
  return { contentType: Registry.OPENMETRICS_CONTENT_TYPE, body: await om.metrics() };
}

/** True when the client lists OpenMetrics as acceptable (q=0 means "not acceptable"). */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept
    .split(',')
    .map((part) => part.trim().toLowerCase())
    .some((part) => part.startsWith('application/openmetrics-text') && !/;\s*q=0(\.0*)?\s*(;|$)/.test(part));
}
