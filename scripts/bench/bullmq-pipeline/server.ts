/**
 * The comparator's HTTP server (README.md, "Performance"): the pipeline a team would build with
 * BullMQ for the same job, doing less. A write is Fastify + JWT + the note's schema + a Redis
 * dedupe of repeated payloads + one MariaDB transaction (a single INSERT into the product's own
 * `notes` table) + `queue.add`. No outbox (a crash between the commit and `queue.add` loses the
 * job), no idempotency fence, no callbacks, no live events, no rate limit. Bench-only: it serves
 * just what the bench's black-box load calls (register, create, list, get, readiness).
 */
import { createHash, randomBytes, scrypt } from 'node:crypto';
import { promisify } from 'node:util';
import fastifyJwt from '@fastify/jwt';
import { PRIORITIES, type Priority } from '@notes/contracts';
import { type Static, Type } from '@sinclair/typebox';
import { Queue } from 'bullmq';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { uuidv7 } from 'uuidv7';
import { bullmqPriority, DEDUPE_SECONDS, JOB_ATTEMPTS, JOB_NAME, QUEUE_NAME, readSettings } from './settings.ts';

const settings = readSettings();
const pool = mysql.createPool({ uri: settings.databaseUrl, connectionLimit: settings.dbPoolSize, timezone: 'Z' });
const redis = new Redis(settings.redisUrl);
const queue = new Queue(QUEUE_NAME, {
  connection: new Redis(settings.redisUrl, { maxRetriesPerRequest: null }),
  prefix: settings.prefix,
  defaultJobOptions: {
    attempts: JOB_ATTEMPTS,
    backoff: { type: 'exponential', delay: 200 },
    removeOnComplete: true,
    removeOnFail: 1000,
  },
});

const PrioritySchema = Type.Union(PRIORITIES.map((p) => Type.Literal(p)));
const CreateNote = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 200 }),
    body: Type.String({ maxLength: 65_536 }),
    priority: Type.Optional(PrioritySchema),
  },
  { additionalProperties: false },
);
const Register = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  email: Type.String({ minLength: 3, maxLength: 320 }),
  password: Type.String({ minLength: 8, maxLength: 256 }),
});
const Note = Type.Object({
  id: Type.String(),
  title: Type.String(),
  priority: Type.String(),
  status: Type.String(),
  created_at: Type.String(),
  processed_at: Type.Union([Type.String(), Type.Null()]),
});
const ListQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  offset: Type.Integer({ minimum: 0, default: 0 }),
  status: Type.Optional(Type.String()),
  sort: Type.Optional(Type.Literal('created_at')),
});

interface NoteRow extends RowDataPacket {
  id: string;
  title: string;
  priority: string;
  status: string;
  created_at: Date;
  processed_at: Date | null;
}
const NOTE_COLUMNS = 'id, title, priority, status, created_at, processed_at';
const view = (r: NoteRow) => ({
  id: r.id,
  title: r.title,
  priority: r.priority,
  status: r.status,
  created_at: r.created_at.toISOString(),
  processed_at: r.processed_at?.toISOString() ?? null,
});

const app = Fastify({ logger: false });
await app.register(fastifyJwt, {
  secret: settings.jwtSecret,
  sign: { algorithm: 'HS256', expiresIn: 3600 },
  verify: { algorithms: ['HS256'], cache: 10_000 },
});
const authenticate = async (request: { jwtVerify(): Promise<unknown> }) => {
  await request.jwtVerify();
};
const userOf = (request: { user: unknown }) => (request.user as { sub: string }).sub;

app.get('/health/ready', async () => {
  await Promise.all([pool.query('SELECT 1'), redis.ping()]);
  return { status: 'ok' };
});

app.post<{ Body: Static<typeof Register> }>(
  '/api/auth/register',
  { schema: { body: Register } },
  async (request, reply) => {
    const salt = randomBytes(16);
    const hash = (await promisify(scrypt)(request.body.password, salt, 32)) as Buffer;
    const id = uuidv7();
    const now = new Date();
    await pool.execute(
      'INSERT INTO users (id, email, name, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
      [id, request.body.email, request.body.name, `${salt.toString('hex')}:${hash.toString('hex')}`, now, now],
    );
    return reply.status(201).send({ token: app.jwt.sign({ sub: id, role: 'user', tv: 0 }) });
  },
);

app.post<{ Body: Static<typeof CreateNote> }>(
  '/api/notes',
  { onRequest: authenticate, schema: { body: CreateNote, response: { 200: Note, 201: Note } } },
  async (request, reply) => {
    const userId = userOf(request);
    const { title, body } = request.body;
    const priority: Priority = request.body.priority ?? 'normal';
    const id = uuidv7();
    // The same payload from the same user within the window answers the first note again.
    const digest = createHash('sha256').update(JSON.stringify(request.body)).digest('hex');
    const first = await redis.set(`${settings.prefix}:dedupe:${userId}:${digest}`, id, 'EX', DEDUPE_SECONDS, 'NX');
    if (first === null) {
      const earlier = await redis.get(`${settings.prefix}:dedupe:${userId}:${digest}`);
      const [rows] = await pool.execute<NoteRow[]>(`SELECT ${NOTE_COLUMNS} FROM notes WHERE id = ?`, [earlier]);
      if (rows[0]) return reply.status(200).send(view(rows[0]));
    }
    const now = new Date();
    await pool.execute(
      'INSERT INTO notes (id, user_id, title, body, priority, status, version, attempts, created_at, updated_at) ' +
        "VALUES (?, ?, ?, ?, ?, 'queued', 1, 0, ?, ?)",
      [id, userId, title, body, priority, now, now],
    );
    await queue.add(JOB_NAME, { noteId: id }, { priority: bullmqPriority(priority) });
    return reply
      .status(201)
      .send({ id, title, priority, status: 'queued', created_at: now.toISOString(), processed_at: null });
  },
);

app.get<{ Querystring: Static<typeof ListQuery> }>(
  '/api/notes',
  { onRequest: authenticate, schema: { querystring: ListQuery } },
  async (request) => {
    const { limit, offset, status } = request.query;
    const where = status ? 'user_id = ? AND status = ?' : 'user_id = ?';
    const args = status ? [userOf(request), status] : [userOf(request)];
    const [rows] = await pool.query<NoteRow[]>(
      `SELECT ${NOTE_COLUMNS} FROM notes WHERE ${where} ORDER BY created_at, id LIMIT ? OFFSET ?`,
      [...args, limit, offset],
    );
    const [count] = await pool.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM notes WHERE ${where}`, args);
    return { data: rows.map(view), total: Number(count[0]?.n ?? 0) };
  },
);

app.get<{ Params: { id: string } }>('/api/notes/:id', { onRequest: authenticate }, async (request, reply) => {
  const [rows] = await pool.execute<NoteRow[]>(`SELECT ${NOTE_COLUMNS} FROM notes WHERE id = ? AND user_id = ?`, [
    request.params.id,
    userOf(request),
  ]);
  return rows[0] ? view(rows[0]) : reply.status(404).send({ title: 'Not Found', status: 404 });
});

async function shutdown(): Promise<void> {
  await app.close();
  await queue.close();
  redis.disconnect();
  await pool.end();
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown());
process.once('SIGINT', () => void shutdown());

await app.listen({ host: '127.0.0.1', port: settings.port });
