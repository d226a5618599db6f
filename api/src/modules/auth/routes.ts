import {
  AuthResultSchema,
  ChangePasswordBodySchema,
  LoginBodySchema,
  MeSchema,
  RegisterBodySchema,
} from '@notes/contracts/auth-api';
import type { App } from '../../app-types.ts';
import type { AuthService } from './auth-service.ts';

/** Register, log in, who am I, change password, log out everywhere (docs/security.md). */
export default async function authRoutes(app: App, { auth }: { auth: AuthService }) {
  app.post(
    '/api/auth/register',
    {
      onRequest: app.limitPerAddress('register'),
      schema: {
        tags: ['auth'],
        summary: 'Create an account and get a token',
        description:
          'The email is stored trimmed, NFC-normalised and lower-cased; a taken email (in any spelling ' +
          'that normalises to it) is a 409.',
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
          'for one account (the normalised email) from one client address, or 50 from one address across ' +
          'accounts: 429 with Retry-After (seconds until an attempt frees up).',
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

  app.post(
    '/api/auth/password',
    {
      // Before validation: without a valid token, the body is nobody's business (401, not 400).
      onRequest: app.authenticate,
      schema: {
        tags: ['auth'],
        summary: 'Change the password; every earlier token stops working',
        description:
          'A wrong current password is a 400 naming `current_password` and counts as a failed login. ' +
          'The answer carries a fresh token; all tokens issued before are revoked.',
        security: [{ bearer: [] }],
        body: ChangePasswordBodySchema,
        response: { 200: AuthResultSchema },
      },
    },
    async (request) => auth.changePassword(request.user, request.body, request.ip),
  );

  app.post(
    '/api/auth/logout-all',
    {
      onRequest: app.authenticate,
      schema: {
        tags: ['auth'],
        summary: 'Revoke every token of the account, this one included',
        description: 'Answers 204; from then on every token issued before this call is a 401.',
        security: [{ bearer: [] }],
      },
    },
    async (request, reply) => {
      await auth.logoutAll(request.user);
      return reply.status(204).send();
    },
  );
}
