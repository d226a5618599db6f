import { SERVICE_SUBJECT } from '@notes/contracts';
import type {
  AuthResult,
  AuthUser,
  ChangePasswordBody,
  LoginBody,
  PublicUser,
  RegisterBody,
  ServiceIdentity,
} from '@notes/contracts/auth-api';
import { uuidv7 } from 'uuidv7';
import type { Database } from '../../platform/db/client.ts';
import {
  BadRequestError,
  ConflictError,
  ForbiddenError,
  TooManyRequestsError,
  UnauthorizedError,
} from '../../platform/errors/index.ts';
import type { LoginThrottle } from './login-throttle.ts';
import { hashPassword, needsRehash, verifyPassword } from './password-hasher.ts';
import {
  findUserByEmail,
  getUserById,
  insertUser,
  isDuplicateKey,
  normalizeEmail,
  toPublicUser,
  type UserRow,
  updateUser,
} from './users-repository.ts';

// The hasher is its own module (bounded queue, 503 when full); re-exported for existing importers.
export { argon2Slots, ConcurrencyLimit, hashPassword, PASSWORD_HASH_OPTIONS } from './password-hasher.ts';

/** The same words whatever was wrong, so the answer never tells whether an email is registered. */
const BAD_CREDENTIALS = 'The email or password is incorrect.';

export interface AuthServiceDeps {
  database: Database;
  throttle: LoginThrottle;
  signToken: (user: AuthUser & { tokenVersion: number }) => string;
  /** This process's cache of a user's state: dropped after a revocation so it applies here at once. */
  forgetUser: (id: string) => void;
  tokenTtlSeconds: number;
}

export class AuthService {
  /** A hash of nothing in particular, verified for unknown emails so they take as long as known ones. */
  private dummyHash: Promise<string> | undefined;

  constructor(private readonly deps: AuthServiceDeps) {}

  async register(input: RegisterBody): Promise<AuthResult> {
    const passwordHash = await hashPassword(input.password);
    try {
      const row = await insertUser(this.deps.database.writer, {
        id: uuidv7(),
        name: input.name.trim(),
        email: normalizeEmail(input.email),
        passwordHash,
        now: new Date(),
      });
      return this.issue(row);
    } catch (err) {
      if (isDuplicateKey(err)) throw new ConflictError('An account with this email already exists.', 'email-taken');
      throw err;
    }
  }

  /**
   * Refused (429) while the account+address, or the address across all accounts, has too many
   * recent failures, before the password is even looked at, so a blocked attacker learns
   * nothing. The account is the normalised email: re-spelling it (case, accents composed or
   * not) is the same account and the same budget. Wrong password, unknown email: the same 401.
   * A disabled account is a 401 too, said plainly only once the password was right.
   */
  async login(input: LoginBody, address: string): Promise<AuthResult> {
    const { throttle, database } = this.deps;
    const email = normalizeEmail(input.email);
    await this.refuseIfThrottled(email, address);

    const row = await findUserByEmail(database.db, email);
    const ok = row
      ? await verifyPassword(row.passwordHash, input.password)
      : await verifyPassword(await this.getDummyHash(), input.password).then(() => false);
    if (!row || !ok) {
      await throttle.recordFailure(email, address);
      throw new UnauthorizedError(BAD_CREDENTIALS);
    }
    if (row.disabled) throw new UnauthorizedError('This account is disabled.');

    await throttle.clear(email, address);
    if (needsRehash(row.passwordHash)) {
      await updateUser(database.writer, row.id, { passwordHash: await hashPassword(input.password) });
    }
    return this.issue(row);
  }

  /**
   * A new password for the caller, given the current one. Every earlier token of the account
   * stops working (docs/security.md); the answer carries a fresh one. A wrong current password
   * counts as a failed login for the account, so a stolen token is no way round the throttle.
   */
  async changePassword(caller: AuthUser, input: ChangePasswordBody, address: string): Promise<AuthResult> {
    const { throttle, database } = this.deps;
    const row = await this.callerRow(caller);
    await this.refuseIfThrottled(row.email, address);
    if (!(await verifyPassword(row.passwordHash, input.current_password))) {
      await throttle.recordFailure(row.email, address);
      // 400, not 401: the token is fine, the form is wrong (a 401 would log a client out).
      throw new BadRequestError('The current password is incorrect.', { field: 'current_password' });
    }
    const passwordHash = await hashPassword(input.new_password);
    const updated = await updateUser(database.writer, row.id, { passwordHash, revokeTokens: true });
    this.deps.forgetUser(row.id);
    if (!updated) throw new UnauthorizedError('This account is disabled or no longer exists.');
    return this.issue(updated);
  }

  /** Revokes every token of the caller's account, the one in hand included. */
  async logoutAll(caller: AuthUser): Promise<void> {
    const row = await this.callerRow(caller);
    await updateUser(this.deps.database.writer, row.id, { revokeTokens: true });
    this.deps.forgetUser(row.id);
  }

  private async callerRow(caller: AuthUser): Promise<UserRow> {
    if (caller.role === 'service') throw new ForbiddenError('The service identity has no password or sessions.');
    const row = await getUserById(this.deps.database.db, caller.id);
    if (!row || row.disabled) throw new UnauthorizedError('This account is disabled or no longer exists.');
    return row;
  }

  private async refuseIfThrottled(email: string, address: string): Promise<void> {
    const verdict = await this.deps.throttle.check(email, address);
    if (verdict.blocked) {
      throw new TooManyRequestsError(verdict.retryAfterSeconds, 'Too many failed logins; try again later.');
    }
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

  private issue(row: UserRow): AuthResult {
    return {
      user: toPublicUser(row),
      token: this.deps.signToken({ id: row.id, role: row.role, tokenVersion: row.tokenVersion }),
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
