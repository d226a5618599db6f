import { AdminConsoleConfig, type Config } from '@notes/contracts';
import type { App } from '../../../app-types.ts';

/** The server settings the console needs (today: where trace links point; docs/operations.md). */
export default async function consoleConfigRoutes(app: App, { config }: { config: Config }) {
  const body: AdminConsoleConfig = { trace_url_template: config.traceUrlTemplate };
  app.get(
    '/config',
    {
      schema: {
        tags: ['admin'],
        summary: "The console's settings: the trace viewer URL template (TRACE_URL_TEMPLATE), or null",
        security: [{ bearer: [] }],
        response: { 200: AdminConsoleConfig },
      },
    },
    async () => body,
  );
}
