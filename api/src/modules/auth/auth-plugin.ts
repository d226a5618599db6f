import fastifyJwt from '@fastify/jwt';
import {
  type Config,
  SERVICE_SUBJECT,
  SERVICE_TOKEN_ALGORITHM,
  serviceKeyId,
  servicePublicKey,
} from '@notes/contracts';
import type { AuthUser } from '@notes/contracts/auth-api';
import { eq } from 'drizzle-orm';
import { createVerifier } from 'fast-jwt';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Database } from '../../platform/db/client.ts';
import { type Role, users } from '../../platform/db/schema.ts';
import { ForbiddenError, UnauthorizedError } from '../../platform/errors/index.ts';

export type { AuthUser };

/** What a user token carries: who, their role when signed, and their token version (`tv`). */
export interface UserTokenClaims {
  sub: string;
  role: Role;
  tv: number;
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: UserTokenClaims;
    user: AuthUser;
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler: a valid token of an enabled user (or the service identity). */
    authenticate: (request: FastifyRequest) => Promise<void>;
    /** preHandler factory: authenticate, then require one of the roles. */
    requireRole: (...roles: Role[]) => (request: FastifyRequest) => Promise<void>;
    /** `tokenVersion` is the account's current one; 0 (a new account's) when left out. */
    signToken: (user: AuthUser & { tokenVersion?: number }) => string;
    /** Drops this process's cached state of a user, so a change takes effect here at once. */
    forgetUserState: (id: string) => void;
  }
}

/**
 * How long a user's state (enabled, role, token version) is trusted before the database is
 * asked again. The instance that revokes forgets its copy at once; other instances see a
 * revocation within this (docs/security.md).
 */
const USER_STATE_TTL_MS = 1000;
/** Verified tokens remembered (ours, and fast-jwt's for failures): never past a token's `exp`. */
const VERIFIED_TOKENS_CACHED = 10_000;
/** A service token older than this is refused, whatever its `exp` says. */
const SERVICE_TOKEN_MAX_AGE_MS = 2 * 3600 * 1000;

type UserState = { role: Role; disabled: boolean; tokenVersion: number; at: number };
type ServiceVerifier = (token: string) => { sub?: unknown; role?: unknown };

const INVALID = 'The token is invalid or has expired.';

/**
 * JWT authentication (docs/security.md), two kinds of token:
 * - user and admin tokens: HS256 with JWT_SECRET, carrying the user's token version; checked
 *   against the user's current state, so a disabled user's or a revoked token stops working
 *   within a second. They can never carry the service role.
 * - service tokens: EdDSA, signed by a consumer's private key, verified with SERVICE_PUBLIC_KEYS
 *   (chosen by `kid`); they carry the service identity and nothing else.
 * fast-jwt refuses `alg: none` and any algorithm not listed for the verifier in use.
 *
 * Per request it costs a cache lookup: a verified token is remembered until it expires (the
 * signature is checked once per token, not once per request; keyed by the token itself, since
 * fast-jwt's own cache hashes every token it looks up), and a user's state is asked of the
 * database at most once a second, by one request while the others of that user wait for it. The
 * state check runs on every request, cached token or not, so disabling a user or revoking a
 * token takes effect as fast as ever.
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

    const serviceVerifiers = new Map<string, ServiceVerifier>();
    for (const key of opts.config.service.publicKeys) {
      const pem = servicePublicKey(key).export({ format: 'pem', type: 'spki' }) as string;
      serviceVerifiers.set(
        serviceKeyId(key),
        createVerifier({
          key: pem,
          algorithms: [SERVICE_TOKEN_ALGORITHM],
          requiredClaims: ['exp', 'iat', 'sub'],
          maxAge: SERVICE_TOKEN_MAX_AGE_MS,
          cache: 1000,
        }),
      );
    }

    const stateCache = new Map<string, UserState>();
    const loading = new Map<string, Promise<UserState | null>>();
    async function loadState(id: string): Promise<UserState | null> {
      const [row] = await opts.database.db
        .select({ role: users.role, disabled: users.disabled, tokenVersion: users.tokenVersion })
        .from(users)
        .where(eq(users.id, id));
      if (!row) return null;
      const state = { ...row, at: Date.now() };
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

    app.decorate('signToken', (user: AuthUser & { tokenVersion?: number }) =>
      app.jwt.sign({ sub: user.id, role: user.role, tv: user.tokenVersion ?? 0 }),
    );

    function verifyService(token: string, kid: unknown): AuthUser {
      const verify = typeof kid === 'string' ? serviceVerifiers.get(kid) : undefined;
      if (!verify) throw new UnauthorizedError(INVALID);
      let payload: { sub?: unknown; role?: unknown };
      try {
        payload = verify(token);
      } catch {
        throw new UnauthorizedError(INVALID);
      }
      if (payload.sub !== SERVICE_SUBJECT || payload.role !== 'service')
        throw new UnauthorizedError('The token is invalid.');
      return { id: SERVICE_SUBJECT, role: 'service' };
    }

    const verified = new VerifiedTokens(VERIFIED_TOKENS_CACHED);
    async function verifyUser(token: string): Promise<AuthUser> {
      let payload: UserTokenClaims;
      try {
        payload = app.jwt.verify<UserTokenClaims>(token);
      } catch {
        throw new UnauthorizedError(INVALID);
      }
      verified.set(token, payload);
      return currentUser(payload);
    }

    /** A verified user token's claims against the user's current state. */
    async function currentUser(payload: UserTokenClaims): Promise<AuthUser> {
      const { sub, role, tv } = payload;
      // JWT_SECRET signs users and admins only: a `service` claim here is a forgery.
      if (typeof sub !== 'string' || !sub || (role !== 'user' && role !== 'admin') || !Number.isInteger(tv)) {
        throw new UnauthorizedError('The token is invalid.');
      }
      const state = await currentState(sub);
      if (!state || state.disabled) throw new UnauthorizedError('This account is disabled or no longer exists.');
      if (state.tokenVersion !== tv) throw new UnauthorizedError('The token has been revoked; log in again.');
      // The role in the database wins over the one in the token (an admin may demote).
      return { id: sub, role: state.role, tokenVersion: tv };
    }

    app.decorate('authenticate', async (request: FastifyRequest) => {
      // The scheme is case-insensitive (RFC 9110 §11.1).
      const header = request.headers.authorization ?? '';
      if (!/^Bearer \S/i.test(header)) throw new UnauthorizedError();
      const parts = header.split(' ');
      const token = parts[1] ?? '';
      if (parts.length !== 2) throw new UnauthorizedError(INVALID);
      // A user token verified before: only the user's state is checked (no header to decode).
      const known = verified.get(token);
      if (known) {
        request.user = await currentUser(known);
        return;
      }
      const jose = decodeHeader(token);
      request.user = jose?.alg === SERVICE_TOKEN_ALGORITHM ? verifyService(token, jose.kid) : await verifyUser(token);
    });

    app.decorate('requireRole', (...roles: Role[]) => async (request: FastifyRequest) => {
      await app.authenticate(request);
      if (!roles.includes(request.user.role)) throw new ForbiddenError();
    });

    /**
     * For long-lived responses (live events): is the user still there and enabled, and (given
     * the token's version) not revoked since? Cached like authenticate.
     */
    app.decorate('userIsActive', async (id: string, tokenVersion?: number) => {
      const state = await currentState(id);
      return state !== null && !state.disabled && (tokenVersion === undefined || state.tokenVersion === tokenVersion);
    });

    app.decorate('forgetUserState', (id: string) => stateCache.delete(id));
  },
  { name: 'auth' },
);

declare module 'fastify' {
  interface FastifyInstance {
    userIsActive: (id: string, tokenVersion?: number) => Promise<boolean>;
  }
}

/** The JOSE header, unverified: it only picks which verifier runs (each checks `alg` itself). */
function decodeHeader(token: string): { alg?: unknown; kid?: unknown } | null {
  const dot = token.indexOf('.');
  if (dot <= 0 || dot > 1024) return null;
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8'));
    return header && typeof header === 'object' ? header : null;
  } catch {
    return null;
  }
}

/**
 * Verified user tokens and their claims, until each one's `exp`; at most `max` (the oldest go
 * first). Only what verification already accepted goes in, so a hit is what a verify would say
 * now, the expiry checked on every hit.
 */
export class VerifiedTokens {
  readonly #entries = new Map<string, { claims: UserTokenClaims; expiresAt: number }>();

  constructor(private readonly max: number) {}

  get(token: string): UserTokenClaims | null {
    const hit = this.#entries.get(token);
    if (!hit) return null;
    if (Date.now() < hit.expiresAt) return hit.claims;
    this.#entries.delete(token);
    return null;
  }

  set(token: string, claims: UserTokenClaims & { exp?: unknown }): void {
    // A token without `exp` is not ours to remember (ours always carry one).
    if (typeof claims.exp !== 'number') return;
    if (this.#entries.size >= this.max) this.#entries.delete(this.#entries.keys().next().value as string);
    this.#entries.set(token, { claims, expiresAt: claims.exp * 1000 });
  }

  get size(): number {
    return this.#entries.size;
  }
}
