import { Type } from '@sinclair/typebox';
import { sql } from 'drizzle-orm';
import type { App, AppDeps } from '../../app-types.ts';

type Check = { status: 'up' | 'down'; latency_ms: number; error?: string };

const CheckSchema = Type.Object({
  status: Type.Union([Type.Literal('up'), Type.Literal('down')]),
  latency_ms: Type.Number(),
  error: Type.Optional(Type.String()),
});

async function timed(fn: () => Promise<unknown>, timeoutMs = 1000): Promise<Check> {
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
    return { status: 'down', latency_ms: round(performance.now() - start), error: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100;

/**
 * `/health`: the process is up. `/health/ready`: each dependency with its latency; 503 only when
 * the database is down (nothing can be accepted), "degraded" when Redis or RabbitMQ is.
 */
export default async function healthRoutes(app: App, deps: AppDeps) {
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
    async (_request, reply) => {
      const [database, redis] = await Promise.all([
        timed(() => deps.database.db.execute(sql`SELECT 1`)),
        timed(() => deps.redis.ping()),
      ]);
      const rabbitmq: Check = deps.amqp.connected
        ? { status: 'up', latency_ms: 0 }
        : { status: 'down', latency_ms: 0, error: 'not connected' };
      const checks = { database, redis, rabbitmq };
      if (database.status === 'down') return reply.status(503).send({ status: 'down', checks });
      const degraded = redis.status === 'down' || rabbitmq.status === 'down';
      return { status: degraded ? 'degraded' : 'ok', checks };
    },
  );
}
