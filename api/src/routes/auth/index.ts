import type { App, AppDeps } from '../../app-types.ts';
import { AuthResultSchema, LoginBodySchema, MeSchema, RegisterBodySchema } from '../../schemas/auth.ts';
import { AuthService } from '../../services/auth-service.ts';
import { LoginThrottle } from '../../services/login-throttle.ts';

/** Register, log in, and who am I (contract section 3). */
export default async function authRoutes(app: App, deps: AppDeps) {
  const auth = new AuthService({
    database: deps.database,
    throttle: new LoginThrottle(deps.redis, { logger: deps.logger }),
    signToken: app.signToken,
    tokenTtlSeconds: deps.config.auth.jwtExpiresInSeconds,
  });

  app.post(
    '/api/auth/register',
    {
      onRequest: app.limitPerAddress('register'),
      schema: {
        tags: ['auth'],
        summary: 'Create an account and get a token',
        description: 'The email is stored lower-cased; a taken email (any case) is a 409.',
        body: RegisterBodySchema,
        response: { 201: AuthResultSchema },
      },
    },
    async (request, reply) => reply.status(201).send(await auth.register(request.body)),
  );

  app.post(
    '/api/auth/login',
    {
      onRequest: app.limitPerAddress('login'),
      schema: {
        tags: ['auth'],
        summary: 'Exchange email and password for a token',
        description:
          'Wrong email or password: 401, the same answer either way. After 10 failures within 15 minutes ' +
          'for one email from one client address: 429 with Retry-After (seconds until an attempt frees up).',
        body: LoginBodySchema,
        response: { 200: AuthResultSchema },
      },
    },
    // request.ip is the socket's peer unless TRUST_PROXY names proxies to believe (app.ts).
    async (request) => auth.login(request.body, request.ip),
  );

  app.get(
    '/api/auth/me',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['auth'],
        summary: 'The caller',
        description: "A user's own account; a service token gets `{id, role: 'service'}` (it has no account).",
        security: [{ bearer: [] }],
        response: { 200: MeSchema },
      },
    },
    async (request) => auth.me(request.user),
  );
}
