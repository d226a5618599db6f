import { type Config, normalizeEmail } from '@notes/contracts';
import type { Logger } from 'pino';
import { uuidv7 } from 'uuidv7';
import type { Database } from '../../platform/db/client.ts';
import { hashPassword, needsRehash, verifyPassword } from './password-hasher.ts';
import { findUserByEmail, insertUser, isDuplicateKey, type UserRow, updateUser } from './users-repository.ts';

export type AdminBootstrapOutcome = 'skipped' | 'created' | 'updated' | 'promoted' | 'unchanged';

/**
 * ADMIN_EMAIL names an account that exists but is not an admin. Anyone can register any email,
 * so promoting it would hand the admin role to whoever registered first (docs/security.md).
 */
export class AdminBootstrapRefusedError extends Error {
  override name = 'AdminBootstrapRefusedError';
}

/**
 * ADMIN_EMAIL + ADMIN_PASSWORD: after start-up that admin account exists, is enabled and takes
 * that password. main.ts calls this after migrating, and stops when it throws.
 * - No such account: it is created.
 * - An admin: its password and enabled flag are brought in line; any change revokes its earlier
 *   tokens (an operator resetting the admin password means to shut out whoever had it).
 * - A non-admin: refused with AdminBootstrapRefusedError, unless ADMIN_PROMOTE_EXISTING=true
 *   says the operator knows that account; then it is promoted, takes the password, and every
 *   token it held before is revoked.
 * Idempotent: an account that already matches is left untouched. Two instances starting at once
 * race on the insert; the loser reconciles.
 */
export async function ensureAdmin(
  config: Config,
  database: Database,
  logger: Pick<Logger, 'info' | 'warn'>,
): Promise<AdminBootstrapOutcome> {
  const admin = config.admin;
  if (!admin) return 'skipped';
  const { db, writer } = database;
  const email = normalizeEmail(admin.email);

  const reconcile = async (existing: UserRow): Promise<AdminBootstrapOutcome> => {
    if (existing.role !== 'admin' && !admin.promoteExisting) {
      throw new AdminBootstrapRefusedError(
        `ADMIN_EMAIL ${email} belongs to an existing ${existing.role} account (id ${existing.id}), ` +
          'which start-up will not promote: anyone may have registered that address. Check the account, ' +
          'then either set ADMIN_PROMOTE_EXISTING=true (its earlier tokens are revoked) or choose another ADMIN_EMAIL.',
      );
    }
    const passwordMatches =
      !needsRehash(existing.passwordHash) && (await verifyPassword(existing.passwordHash, admin.password));
    if (passwordMatches && existing.role === 'admin' && !existing.disabled) return 'unchanged';
    await updateUser(writer, existing.id, {
      role: 'admin',
      disabled: false,
      revokeTokens: true,
      ...(passwordMatches ? {} : { passwordHash: await hashPassword(admin.password) }),
    });
    if (existing.role !== 'admin') {
      logger.warn({ email, id: existing.id }, 'ADMIN_PROMOTE_EXISTING: promoted an existing account to admin');
      return 'promoted';
    }
    return 'updated';
  };

  let outcome: AdminBootstrapOutcome;
  const existing = await findUserByEmail(db, email);
  if (existing) {
    outcome = await reconcile(existing);
  } else {
    try {
      await insertUser(writer, {
        id: uuidv7(),
        name: 'Administrator',
        email,
        passwordHash: await hashPassword(admin.password),
        role: 'admin',
        now: new Date(),
      });
      outcome = 'created';
    } catch (err) {
      const winner = isDuplicateKey(err) ? await findUserByEmail(db, email) : null;
      if (!winner) throw err;
      outcome = await reconcile(winner);
    }
  }
  logger.info({ email, outcome }, 'admin account ensured');
  return outcome;
}
