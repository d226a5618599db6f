import { ControlList, ControlPatch, ControlRow, KindParams } from '@notes/contracts';
import type { App } from '../../../app-types.ts';
import type { AdminRouteOptions } from './route-options.ts';

const security = [{ bearer: [] }];

/** Pause and resume consumption per job kind (docs/jobs.md, "Control"). */
export default async function controlRoutes(app: App, { operations }: AdminRouteOptions) {
  app.get(
    '/control',
    {
      schema: {
        tags: ['admin'],
        summary: 'Whether each job kind is paused, since when and by whom',
        security,
        response: { 200: ControlList },
      },
    },
    async () => ({ kinds: await operations.controls() }),
  );

  app.put(
    '/control/:kind',
    {
      schema: {
        tags: ['admin'],
        summary: 'Pause or resume a job kind',
        description:
          'Kept across restarts; every consumer obeys within about 2 s. Paused work waits in RabbitMQ. ' +
          'Audited as `control.pause` / `control.resume`.',
        security,
        params: KindParams,
        body: ControlPatch,
        response: { 200: ControlRow },
      },
    },
    async (request) => operations.setPaused(request.user.id, request.params.kind, request.body.paused),
  );
}
