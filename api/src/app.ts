import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, { type FastifyBaseLogger, LogController } from 'fastify';
import FindMyWay from 'find-my-way';
import type { App, AppDeps } from './app-types.ts';
import auth from './modules/auth/auth-plugin.ts';
import { configurePasswordHasher } from './modules/auth/password-hasher.ts';
import { installErrorHandler, PROBLEM_TYPE_BASE, sendProblem } from './platform/errors/handler.ts';
import rateLimit from './platform/http/rate-limit.ts';
import securityHeaders from './platform/http/security-headers.ts';
import { registerRoutes } from './routes.ts';
import { createServices } from './wiring.ts';

export type { App, AppDeps } from './app-types.ts';

export const BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * Builds the Fastify instance; main.ts and the tests both use it. It owns no connections:
 * closing the app stops its own timers and hooks, the caller closes the clients.
 */
export async function buildApp(deps: AppDeps): Promise<App> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : crypto.randomUUID();
    },
    logController: new LogController({
      requestIdLogLabel: 'request_id',
      disableRequestLogging: deps.config.env === 'test',
    }),
    return503OnClosing: true,
    // Which forwarded addresses count as the client's (TRUST_PROXY): per-address limits and the
    // login throttle key on request.ip.
    // (Cast: a union here sends TypeScript to Fastify's HTTP/2 overload.)
    trustProxy: deps.config.trustProxy as true,
    // On close, idle keep-alive sockets go at once; requests in flight are answered first
    // (a reset would leave their clients unsure whether the write happened).
    forceCloseConnections: 'idle',
    // Errors Fastify raises before routing (bad percent-encoding, over-long path segment) are
    // problem+json like every other error.
    frameworkErrors: (error, request, reply) => {
      const status = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : 400;
      reply.log.info({ code: error.code }, 'request refused before routing');
      return sendProblem(reply, request, {
        type: `${PROBLEM_TYPE_BASE}${error.code.toLowerCase()}`,
        title: status === 414 ? 'URI Too Long' : 'Bad Request',
        status,
        detail:
          error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'A path segment is too long.' : 'The request URL is malformed.',
      });
    },
    // Slow or stalled clients must not hold sockets forever.
    requestTimeout: 30_000,
    connectionTimeout: 60_000,
    // Set as the factory, not with setValidatorCompiler: a plugin that calls addSchema gets a
    // validator rebuilt from this factory, so strictness can't be lost in an encapsulated plugin.
    // (Fastify's types describe the factory's compiler as Ajv's compile(schema); at run time it is
    // called with { schema, httpPart, … } like any validator compiler.)
    schemaController: { compilersFactory: { buildValidator: buildValidatorCompiler as never } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // JSON only: a text/plain body is a 415 like any other type, not a string that fails validation.
  app.removeContentTypeParser('text/plain');
  installErrorHandler(app);
  installMethodNotAllowed(app);
  installDraining(app);
  refuseEncodedBodies(app);

  await app.register(securityHeaders);
  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'Notes Pipeline API', version: '1.0.0' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  await app.register(auth, { config: deps.config, database: deps.database });
  await app.register(rateLimit, { config: deps.config, guard: deps.redisGuard, logger: deps.logger });
  configurePasswordHasher(deps.config.limits.passwordHashQueue);
  await registerRoutes(app, deps, createServices(deps, app));
  return app;
}

/**
 * Bodies are validated strictly (a wrong type is a 400, unknown fields are a 400, nothing is
 * coerced or dropped); query strings, params and headers are strings on the wire and are coerced
 * to the schema's types. A coerced number must be finite: Ajv turns `?limit=1e400` into
 * Infinity and takes it for an integer within any maximum, and it reached the database as a 500.
 */
function buildValidatorCompiler(externalSchemas: unknown) {
  const make = (coerceTypes: false | 'array') => {
    const ajv = addFormats.default(
      new Ajv({ removeAdditional: false, useDefaults: true, coerceTypes, allErrors: false }),
    );
    ajv.addKeyword('kind').addKeyword('modifier'); // TypeBox's own annotations
    for (const schema of Object.values((externalSchemas ?? {}) as Record<string, object>)) ajv.addSchema(schema);
    return ajv;
  };
  const strict = make(false);
  const coercing = make('array');
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) =>
    httpPart === 'body' ? strict.compile(schema) : finiteOnly(coercing.compile(schema) as unknown as Validate);
}

type Validate = ((data: unknown, ctx?: object) => boolean) & { errors?: unknown; schemaEnv?: unknown };

/** The validator, then: no top-level value it coerced to a number may be Infinity or NaN. */
function finiteOnly(validate: Validate): Validate {
  const wrapped: Validate = (data, ctx) => {
    if (!validate(data, ctx)) {
      wrapped.errors = validate.errors;
      return false;
    }
    if (data && typeof data === 'object') {
      for (const [field, value] of Object.entries(data)) {
        if (typeof value === 'number' && !Number.isFinite(value)) {
          wrapped.errors = [
            {
              instancePath: `/${field}`,
              schemaPath: '#',
              keyword: 'type',
              params: {},
              message: 'must be a finite number',
            },
          ];
          return false;
        }
      }
    }
    return true;
  };
  // Fastify passes the parent along (so Ajv can coerce a root value) when this is set.
  wrapped.schemaEnv = validate.schemaEnv;
  return wrapped;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Shutdown's first step: answers from now on close their connection (see main.ts). */
    startDraining(): void;
  }
}

function installDraining(app: App): void {
  let draining = false;
  app.decorate('startDraining', () => {
    draining = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (draining) reply.header('connection', 'close');
  });
}

/**
 * We don't decode request bodies: one labelled with a Content-Encoding other than identity is a
 * 415 (RFC 9110 §8.4), not bytes to read as if they were plain JSON.
 */
function refuseEncodedBodies(app: App): void {
  app.addHook('onRequest', async (request, reply) => {
    const coding = request.headers['content-encoding'];
    if (coding === undefined || coding.trim().toLowerCase() === 'identity') return;
    reply.header('accept-encoding', 'identity');
    return sendProblem(reply, request, {
      type: `${PROBLEM_TYPE_BASE}unsupported-content-encoding`,
      title: 'Unsupported Media Type',
      status: 415,
      detail: 'Request bodies must not be content-encoded (send Content-Encoding: identity or none).',
    });
  });
}

/**
 * A known path with an unsupported method is a 405 with `Allow`, not a 404. Fastify only knows
 * "no route", so a second router over the same paths answers which methods exist.
 */
function installMethodNotAllowed(app: App): void {
  const paths = FindMyWay();
  const methods = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    const list = Array.isArray(route.method) ? route.method : [route.method];
    let set = methods.get(route.url);
    if (!set) {
      set = new Set();
      methods.set(route.url, set);
      paths.on('GET', route.url, () => {}, { url: route.url });
    }
    for (const m of list) set.add(m);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    const found = paths.find('GET', path);
    const allowed = found ? methods.get((found.store as { url: string }).url) : undefined;
    if (allowed && !allowed.has(request.method)) {
      reply.header('allow', [...allowed].sort().join(', '));
      return sendProblem(reply, request, {
        type: `${PROBLEM_TYPE_BASE}method-not-allowed`,
        title: 'Method Not Allowed',
        status: 405,
        detail: `${request.method} is not supported on ${path}.`,
      });
    }
    return sendProblem(reply, request, {
      type: `${PROBLEM_TYPE_BASE}not-found`,
      title: 'Not Found',
      status: 404,
      detail: `No route ${request.method} ${path}.`,
    });
  });
}
