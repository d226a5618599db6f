import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../app-types.ts';
import { BadRequestError } from '../../platform/errors/index.ts';
import { withNextLink } from '../../platform/http/link-header.ts';
import type { WriteOutcome } from '../idempotency/index.ts';
import type { NotesService, WriteMeta } from './notes-service.ts';
import {
  BODY_MAX_BYTES,
  ConditionalWriteHeadersSchema,
  CreateNoteBodySchema,
  JobHistoryQuerySchema,
  JobHistorySchema,
  ListNotesQuerySchema,
  type Note,
  NoteListSchema,
  NoteParamsSchema,
  NoteSchema,
  READ_ONLY_FIELDS,
  SHARED_NOTE_SCHEMAS,
  UpdateNoteBodySchema,
  WriteHeadersSchema,
} from './schemas.ts';

const NoteRef = Type.Unsafe<Note>(Type.Ref(NoteSchema.$id!));
const tags = ['notes'];
const security = [{ bearer: [] }];

/** An unpaired UTF-16 surrogate cannot be stored as UTF-8; reject it instead of mangling it. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Runs before schema validation on POST and PATCH: read-only fields are named as such, the title
 * is trimmed (the limits apply to the trimmed title, and it is stored trimmed), and the body's
 * UTF-8 size is checked (JSON Schema can only count characters).
 */
async function prepareNoteInput(request: FastifyRequest): Promise<void> {
  const input = request.body;
  if (!input || typeof input !== 'object' || Array.isArray(input)) return;
  const fields = input as Record<string, unknown>;
  for (const field of READ_ONLY_FIELDS) {
    if (Object.hasOwn(fields, field)) throw new BadRequestError(`${field} is read-only.`, { field });
  }
  for (const field of ['title', 'body'] as const) {
    const value = fields[field];
    if (typeof value === 'string' && LONE_SURROGATE.test(value)) {
      throw new BadRequestError(`${field}: must be well-formed Unicode.`, { field });
    }
  }
  if (typeof fields.title === 'string') fields.title = fields.title.trim();
  if (typeof fields.body === 'string' && Buffer.byteLength(fields.body, 'utf8') > BODY_MAX_BYTES) {
    throw new BadRequestError(`body: must be at most ${BODY_MAX_BYTES} UTF-8 bytes.`, { field: 'body' });
  }
}

function writeMeta(request: FastifyRequest): WriteMeta {
  const header = (name: string) => {
    const v = request.headers[name];
    return typeof v === 'string' ? v : undefined;
  };
  return {
    method: request.method,
    path: request.url.split('?')[0] ?? request.url,
    key: header('idempotency-key'),
    ifMatch: header('if-match'),
  };
}

/** The first answer, or its replay: same status, body and Location, plus Idempotent-Replayed. */
function sendOutcome(reply: FastifyReply, outcome: WriteOutcome) {
  const { status, body, location } = outcome.response;
  if (outcome.replayed) reply.header('idempotent-replayed', 'true');
  if (location) reply.header('location', location);
  const version = (body as Partial<Note> | null)?.version;
  if (typeof version === 'number') reply.header('etag', `"${version}"`);
  reply.status(status);
  if (status === 204) return reply.send();
  // Already serialised for the fence and Redis (the same NoteSchema shape): sent as is.
  if (typeof outcome.json === 'string') return reply.type('application/json; charset=utf-8').send(outcome.json);
  return reply.send(body);
}

/** `/api/notes`: a user's own notes (docs/api.md and docs/guarantees.md). Another user's note is a 404. */
export default async function notesRoutes(app: App, { notes }: { notes: NotesService }) {
  for (const schema of SHARED_NOTE_SCHEMAS) app.addSchema(schema);
  app.addHook('onRequest', app.requireRole('user', 'admin'));
  app.addHook('onRequest', app.limitUserWrites);

  app.post(
    '/api/notes',
    {
      preValidation: prepareNoteInput,
      schema: {
        tags,
        security,
        summary: 'Create a note and queue its processing',
        headers: WriteHeadersSchema,
        body: CreateNoteBodySchema,
        response: { 201: NoteRef },
      },
    },
    async (request, reply) => sendOutcome(reply, await notes.create(request.user.id, request.body, writeMeta(request))),
  );

  app.get(
    '/api/notes',
    {
      schema: {
        tags,
        security,
        summary: 'List the caller’s notes',
        querystring: ListNotesQuerySchema,
        response: { 200: NoteListSchema },
      },
    },
    async (request, reply) => withNextLink(request, reply, await notes.list(request.user.id, request.query)),
  );

  app.get(
    '/api/notes/:id',
    {
      schema: {
        tags,
        security,
        summary: 'One note, with its version as ETag',
        params: NoteParamsSchema,
        response: { 200: NoteRef },
      },
    },
    async (request, reply) => {
      const note = await notes.get(request.user.id, request.params.id);
      return reply.header('etag', `"${note.version}"`).send(note);
    },
  );

  app.patch(
    '/api/notes/:id',
    {
      preValidation: prepareNoteInput,
      schema: {
        tags,
        security,
        summary: 'Change a note (If-Match optional) and queue its processing again',
        params: NoteParamsSchema,
        headers: ConditionalWriteHeadersSchema,
        body: UpdateNoteBodySchema,
        response: { 200: NoteRef },
      },
    },
    async (request, reply) =>
      sendOutcome(reply, await notes.update(request.user.id, request.params.id, request.body, writeMeta(request))),
  );

  app.delete(
    '/api/notes/:id',
    {
      schema: {
        tags,
        security,
        summary: 'Delete a note (its jobs stay as history)',
        params: NoteParamsSchema,
        headers: ConditionalWriteHeadersSchema,
        response: { 204: Type.Null({ description: 'Deleted.' }) },
      },
    },
    async (request, reply) =>
      sendOutcome(reply, await notes.remove(request.user.id, request.params.id, writeMeta(request))),
  );

  app.get(
    '/api/notes/:id/jobs',
    {
      schema: {
        tags,
        security,
        summary: 'The note’s job history, newest first',
        params: NoteParamsSchema,
        querystring: JobHistoryQuerySchema,
        response: { 200: JobHistorySchema },
      },
    },
    async (request) => notes.jobs(request.user.id, request.params.id, request.query),
  );
}
