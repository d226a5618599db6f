import { FailureActionResult, FailureGroups, FailureGroupsQuery, FailureSelection } from '@notes/contracts';
import type { App } from '../../../app-types.ts';
import type { AdminRouteOptions } from './route-options.ts';

const security = [{ bearer: [] }];
const selectionHelp =
  'Exactly one of `group_id`, `job_ids`, `filter` ({kind, reason, user_id, older_than_hours}) or `all: true`. ' +
  '`dry_run` lists what would move (the first 100 ids) and changes nothing. Audited.';

/** The failure inbox: dead jobs grouped by kind and error; promote or discard a selection (docs/jobs.md). */
export default async function failureRoutes(app: App, { failures }: AdminRouteOptions) {
  app.get(
    '/failures',
    {
      schema: {
        tags: ['admin'],
        summary: 'Dead jobs grouped by kind, error class and normalised message, largest group first',
        security,
        querystring: FailureGroupsQuery,
        response: { 200: FailureGroups },
      },
    },
    async (request) => ({ data: await failures.groups(request.query.kind) }),
  );

  app.post(
    '/failures/promote',
    {
      schema: {
        tags: ['admin'],
        summary: 'Move a selection of dead jobs back to work (attempts reset), in pages',
        description: selectionHelp,
        security,
        body: FailureSelection,
        response: { 200: FailureActionResult },
      },
    },
    async (request) => failures.promote(request.user.id, request.body),
  );

  app.post(
    '/failures/discard',
    {
      schema: {
        tags: ['admin'],
        summary: 'Discard a selection of dead jobs: they leave the inbox and become discarded',
        description: selectionHelp,
        security,
        body: FailureSelection,
        response: { 200: FailureActionResult },
      },
    },
    async (request) => failures.discard(request.user.id, request.body),
  );
}
