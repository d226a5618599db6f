import { Type } from '@sinclair/typebox';
import { sql } from 'drizzle-orm';
import type { App, AppDeps } from '../../app-types.ts';

type Check = { status: 'up' | 'down'; latency_ms: number };

/**
 * A dependency's state and latency, and nothing more: the error behind a "down" (host names,
 * ports, driver messages) goes to the log, never to whoever asks (docs/security.md). The schema
 * drops any other field on the way out.
 */
const CheckSchema = Type.Object(
  {
    status: Type.Union([Type.Literal('up'), Type.Literal('down')]),
    latency_ms: Type.Number(),
  },
  { additionalProperties: false },
);

async function timed(
  name: string,
  log: { warn(obj: object, msg: string): void },
  fn: () => Promise<unknown>,
  timeoutMs = 1000,
): Promise<Check> {
  const start = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { status: 'up', latency_ms: round(performance.now() - start) };
  } catch (err) {
    log.warn({ err, dependency: name }, 'readiness check failed');
    return { status: 'down', latency_ms: round(performance.now() - start) };
  } finally {
    clearTimeout(timer);
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100;

/**
 * `/health`: the process is up. `/health/ready`: each dependency with its latency; 503 only when
 * the database is down (nothing can be accepted), "degraded" when Redis or RabbitMQ is.
 */
export default async function healthRoutes(app: App, deps: Pick<AppDeps, 'database' | 'redis' | 'amqp'>) {
  app.get('/health', { schema: { hide: true } }, async () => ({ status: 'ok' }));

  app.get(
    '/health/ready',
    {
      schema: {
        tags: ['health'],
        response: {
          '2xx': Type.Object({
            status: Type.String(),
            checks: Type.Object({ database: CheckSchema, redis: CheckSchema, rabbitmq: CheckSchema }),
          }),
          503: Type.Object({
            status: Type.String(),
            checks: Type.Object({ database: CheckSchema, redis: CheckSchema, rabbitmq: CheckSchema }),
          }),
        },
      },
    },
    async (request, reply) => {
      const [database, redis] = await Promise.all([
        timed('database', request.log, () => deps.database.db.execute(sql`SELECT 1`)),
        timed('redis', request.log, () => deps.redis.ping()),
      ]);
      const rabbitmq: Check = { status: deps.amqp.connected ? 'up' : 'down', latency_ms: 0 };
      const checks = { database, redis, rabbitmq };
      if (database.status === 'down') return reply.status(503).send({ status: 'down', checks });
      const degraded = redis.status === 'down' || rabbitmq.status === 'down';
      return { status: degraded ? 'degraded' : 'ok', checks };
    },
  );
}
