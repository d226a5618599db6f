import { SERVICE_SUBJECT } from '@notes/contracts';
import { uuidv7 } from 'uuidv7';
import type { Database } from '../db/client.ts';
import { ConflictError, TooManyRequestsError, UnauthorizedError } from '../errors/index.ts';
import {
  findUserByEmail,
  getUserById,
  insertUser,
  isDuplicateKey,
  toPublicUser,
  updateUser,
} from '../repositories/users-repository.ts';
import type { AuthResult, AuthUser, LoginBody, PublicUser, RegisterBody, ServiceIdentity } from '../schemas/auth.ts';
import type { LoginThrottle } from './login-throttle.ts';
import { hashPassword, needsRehash, verifyPassword } from './password-hasher.ts';

// The hasher is its own module (bounded queue, 503 when full); re-exported for existing importers.
export { argon2Slots, ConcurrencyLimit, hashPassword, PASSWORD_HASH_OPTIONS } from './password-hasher.ts';

/** The same words whatever was wrong, so the answer never tells whether an email is registered. */
const BAD_CREDENTIALS = 'The email or password is incorrect.';

export interface AuthServiceDeps {
  database: Database;
  throttle: LoginThrottle;
  signToken: (user: AuthUser) => string;
  tokenTtlSeconds: number;
}

export class AuthService {
  /** A hash of nothing in particular, verified for unknown emails so they take as long as known ones. */
  private dummyHash: Promise<string> | undefined;

  constructor(private readonly deps: AuthServiceDeps) {}

  async register(input: RegisterBody): Promise<AuthResult> {
    const passwordHash = await hashPassword(input.password);
    try {
      const row = await insertUser(this.deps.database.db, {
        id: uuidv7(),
        name: input.name.trim(),
        email: input.email,
        passwordHash,
        now: new Date(),
      });
      return this.issue(toPublicUser(row));
    } catch (err) {
      if (isDuplicateKey(err)) throw new ConflictError('An account with this email already exists.', 'email-taken');
      throw err;
    }
  }

  /**
   * Refused (429) while the email+address has too many recent failures, before the password is
   * even looked at, so a blocked attacker learns nothing. Wrong password, unknown email: the
   * same 401. A disabled account is a 401 too, said plainly only once the password was right.
   */
  async login(input: LoginBody, address: string): Promise<AuthResult> {
    const { throttle, database } = this.deps;
    const verdict = await throttle.check(input.email, address);
    if (verdict.blocked) {
      throw new TooManyRequestsError(verdict.retryAfterSeconds, 'Too many failed logins; try again later.');
    }

    const row = await findUserByEmail(database.db, input.email);
    const ok = row
      ? await verifyPassword(row.passwordHash, input.password)
      : await verifyPassword(await this.getDummyHash(), input.password).then(() => false);
    if (!row || !ok) {
      await throttle.recordFailure(input.email, address);
      throw new UnauthorizedError(BAD_CREDENTIALS);
    }
    if (row.disabled) throw new UnauthorizedError('This account is disabled.');

    await throttle.clear(input.email, address);
    if (needsRehash(row.passwordHash)) {
      await updateUser(database.db, row.id, { passwordHash: await hashPassword(input.password) });
    }
    return this.issue(toPublicUser(row));
  }

  /**
   * The caller. A service token has no user row: it gets its identity `{id, role: 'service'}`
   * rather than a 404, so a consumer can check which identity its token carries.
   */
  async me(caller: AuthUser): Promise<PublicUser | ServiceIdentity> {
    if (caller.role === 'service') return { id: SERVICE_SUBJECT, role: 'service' };
    // app.authenticate checked the row moments ago (from a cache up to a second old); the fresh
    // read here must agree, so a deleted or disabled account is the same 401 as there.
    const row = await getUserById(this.deps.database.db, caller.id);
    if (!row || row.disabled) throw new UnauthorizedError('This account is disabled or no longer exists.');
    return toPublicUser(row);
  }

  private issue(user: PublicUser): AuthResult {
    return {
      user,
      token: this.deps.signToken({ id: user.id, role: user.role }),
      expires_in: this.deps.tokenTtlSeconds,
    };
  }

  private getDummyHash(): Promise<string> {
    // A refused hash (queue full) must not stay cached as the answer for every later login.
    this.dummyHash ??= hashPassword(`no-such-user-${uuidv7()}`).catch((err) => {
      this.dummyHash = undefined;
      throw err;
    });
    return this.dummyHash;
  }
}
