import fastifyJwt from '@fastify/jwt';
import { type Config, SERVICE_SUBJECT } from '@notes/contracts';
import { eq } from 'drizzle-orm';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Database } from '../../db/client.ts';
import { ROLES, type Role, users } from '../../db/schema.ts';
import { ForbiddenError, UnauthorizedError } from '../../errors/index.ts';
import type { AuthUser } from '../../schemas/auth.ts';

export type { AuthUser };

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: { sub: string; role: Role };
    user: AuthUser;
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler: a valid token of an enabled user (or the service identity). */
    authenticate: (request: FastifyRequest) => Promise<void>;
    /** preHandler factory: authenticate, then require one of the roles. */
    requireRole: (...roles: Role[]) => (request: FastifyRequest) => Promise<void>;
    signToken: (user: AuthUser) => string;
  }
}

/** How long "this user is enabled" is trusted before the database is asked again. */
const USER_STATE_TTL_MS = 1000;
/** Verified tokens remembered (fast-jwt's cache: never past a token's `exp`; failures too). */
const VERIFIED_TOKENS_CACHED = 10_000;

type UserState = { role: Role; disabled: boolean; at: number };

/**
 * JWT authentication. Tokens are HS256 only (fast-jwt refuses `alg: none` and any other
 * algorithm), expire, and are checked against the user's current state so a disabled user's
 * token stops working within a second.
 *
 * Per request it costs a cache lookup: a verified token is remembered until it expires (the
 * signature is checked once per token, not once per request), and a user's state is asked of
 * the database at most once a second, by one request while the others of that user wait for it.
 */
export default fp(
  async function auth(app: FastifyInstance, opts: { config: Config; database: Database }) {
    await app.register(fastifyJwt, {
      secret: opts.config.auth.jwtSecret,
      // @fastify/jwt takes a number as SECONDS (it converts to fast-jwt's milliseconds itself).
      sign: { algorithm: 'HS256', expiresIn: opts.config.auth.jwtExpiresInSeconds },
      verify: { algorithms: ['HS256'], cache: VERIFIED_TOKENS_CACHED },
      decode: { complete: false },
      formatUser: (payload) => ({ id: payload.sub, role: payload.role }),
    });

    const stateCache = new Map<string, UserState>();
    const loading = new Map<string, Promise<UserState | null>>();
    async function loadState(id: string): Promise<UserState | null> {
      const [row] = await opts.database.db
        .select({ role: users.role, disabled: users.disabled })
        .from(users)
        .where(eq(users.id, id));
      if (!row) return null;
      const state = { role: row.role, disabled: row.disabled, at: Date.now() };
      if (stateCache.size > 10_000) stateCache.clear();
      stateCache.set(id, state);
      return state;
    }
    function currentState(id: string): UserState | null | Promise<UserState | null> {
      const hit = stateCache.get(id);
      if (hit && Date.now() - hit.at < USER_STATE_TTL_MS) return hit;
      let pending = loading.get(id);
      if (!pending) {
        pending = loadState(id).finally(() => loading.delete(id));
        loading.set(id, pending);
      }
      return pending;
    }

    app.decorate('signToken', (user: AuthUser) => app.jwt.sign({ sub: user.id, role: user.role }));

    app.decorate('authenticate', async (request: FastifyRequest) => {
      // The scheme is case-insensitive (RFC 9110 §11.1).
      const header = request.headers.authorization ?? '';
      if (!/^Bearer \S/i.test(header)) throw new UnauthorizedError();
      const parts = header.split(' ');
      let payload: { sub: string; role: Role };
      try {
        if (parts.length !== 2) throw new Error('malformed');
        payload = app.jwt.verify<{ sub: string; role: Role }>(parts[1] as string);
      } catch {
        throw new UnauthorizedError('The token is invalid or has expired.');
      }
      // A well-signed token must still carry a sensible identity; the service one is the
      // consumers' and has no database row.
      request.user = { id: payload.sub, role: payload.role };
      const { id, role } = request.user;
      if (typeof id !== 'string' || !id || !ROLES.includes(role)) throw new UnauthorizedError('The token is invalid.');
      if (role === 'service') {
        if (id !== SERVICE_SUBJECT) throw new UnauthorizedError('The token is invalid.');
        return;
      }
      const state = await currentState(request.user.id);
      if (!state || state.disabled) throw new UnauthorizedError('This account is disabled or no longer exists.');
      // The role in the database wins over the one in the token (an admin may demote).
      request.user = { id: request.user.id, role: state.role };
    });

    app.decorate('requireRole', (...roles: Role[]) => async (request: FastifyRequest) => {
      await app.authenticate(request);
      if (!roles.includes(request.user.role)) throw new ForbiddenError();
    });

    /** For long-lived responses (live events): is the user still there and enabled? Cached like authenticate. */
    app.decorate('userIsActive', async (id: string) => {
      const state = await currentState(id);
      return state !== null && !state.disabled;
    });

    /** Tests and admin actions call this so a changed user takes effect at once. */
    app.decorate('forgetUserState', (id: string) => stateCache.delete(id));
  },
  { name: 'auth' },
);

declare module 'fastify' {
  interface FastifyInstance {
    forgetUserState: (id: string) => void;
    userIsActive: (id: string) => Promise<boolean>;
  }
}
