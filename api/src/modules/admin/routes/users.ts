import { AdminUser, IdParams, listOf, UserListQuery, UserPatch } from '@notes/contracts/admin-api';
import type { App } from '../../../app-types.ts';
import { withNextLink } from '../../../platform/http/link-header.ts';
import type { AdminRouteOptions } from './route-options.ts';

const security = [{ bearer: [] }];

/** Users: list, read, change role or disable (docs/operations.md). */
export default async function userRoutes(app: App, { service }: AdminRouteOptions) {
  app.get(
    '/users',
    {
      schema: {
        tags: ['admin'],
        summary: 'Users',
        description: '`q` is a case-insensitive substring of email or name.',
        security,
        querystring: UserListQuery,
        response: { 200: listOf(AdminUser) },
      },
    },
    async (request, reply) => withNextLink(request, reply, await service.listUsers(request.query)),
  );

  app.get(
    '/users/:id',
    { schema: { tags: ['admin'], summary: 'One user', security, params: IdParams, response: { 200: AdminUser } } },
    async (request) => service.getUser(request.params.id),
  );

  app.patch(
    '/users/:id',
    {
      schema: {
        tags: ['admin'],
        summary: "Change a user's role or disable/enable them",
        description:
          'Takes effect at once, also for tokens already issued (a disabled user gets 401). ' +
          'An admin cannot demote or disable themselves (400). Audited as `user.update`.',
        security,
        params: IdParams,
        body: UserPatch,
        response: { 200: AdminUser },
      },
    },
    async (request) => service.updateUser(request.user.id, request.params.id, request.body),
  );
}
