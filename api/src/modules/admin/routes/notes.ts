import { AdminNote, AdminNoteDetail, IdParams, listOf, NoteListQuery } from '@notes/contracts/admin-api';
import type { App } from '../../../app-types.ts';
import { withNextLink } from '../../../platform/http/link-header.ts';
import type { AdminRouteOptions } from './route-options.ts';

const security = [{ bearer: [] }];

/** Every user's notes, with their owner; one note with its body, result and job history. */
export default async function noteRoutes(app: App, { service }: AdminRouteOptions) {
  app.get(
    '/notes',
    {
      schema: {
        tags: ['admin'],
        summary: 'All notes, with owner email',
        description: '`user` is an owner id or email; `q` words of title or body (docs/data.md).',
        security,
        querystring: NoteListQuery,
        response: { 200: listOf(AdminNote) },
      },
    },
    async (request, reply) => withNextLink(request, reply, await service.listNotes(request.query)),
  );

  app.get(
    '/notes/:id',
    {
      schema: {
        tags: ['admin'],
        summary: 'One note with its result and job history (newest job first)',
        security,
        params: IdParams,
        response: { 200: AdminNoteDetail },
      },
    },
    async (request) => service.getNote(request.params.id),
  );
}
