import type { Config } from '@notes/contracts';
import * as argon2 from 'argon2';
import type { Logger } from 'pino';
import { uuidv7 } from 'uuidv7';
import type { Database } from '../db/client.ts';
import {
  findUserByEmail,
  insertUser,
  isDuplicateKey,
  type UserRow,
  updateUser,
} from '../repositories/users-repository.ts';
import { hashPassword, PASSWORD_HASH_OPTIONS } from './auth-service.ts';

export type AdminBootstrapOutcome = 'skipped' | 'created' | 'updated' | 'unchanged';

/**
 * ADMIN_EMAIL + ADMIN_PASSWORD (contract section 2): after start-up that account exists, is an
 * admin, is enabled and takes that password. main.ts calls this after migrating. Idempotent: an
 * account that already matches is left untouched (same hash, same updated_at), so restarts
 * don't rewrite it. Re-enabling is deliberate: the operator's environment says this admin must
 * be able to log in. Two instances starting at once race on the insert; the loser updates.
 */
export async function ensureAdmin(
  config: Config,
  database: Database,
  logger: Pick<Logger, 'info'>,
): Promise<AdminBootstrapOutcome> {
  const admin = config.admin;
  if (!admin) return 'skipped';
  const { db } = database;

  const reconcile = async (existing: UserRow): Promise<AdminBootstrapOutcome> => {
    const passwordMatches =
      !argon2.needsRehash(existing.passwordHash, PASSWORD_HASH_OPTIONS) &&
      (await argon2.verify(existing.passwordHash, admin.password));
    if (passwordMatches && existing.role === 'admin' && !existing.disabled) return 'unchanged';
    await updateUser(db, existing.id, {
      role: 'admin',
      disabled: false,
      ...(passwordMatches ? {} : { passwordHash: await hashPassword(admin.password) }),
    });
    return 'updated';
  };

  let outcome: AdminBootstrapOutcome;
  const existing = await findUserByEmail(db, admin.email);
  if (existing) {
    outcome = await reconcile(existing);
  } else {
    try {
      await insertUser(db, {
        id: uuidv7(),
        name: 'Administrator',
        email: admin.email,
        passwordHash: await hashPassword(admin.password),
        role: 'admin',
        now: new Date(),
      });
      outcome = 'created';
    } catch (err) {
      const winner = isDuplicateKey(err) ? await findUserByEmail(db, admin.email) : null;
      if (!winner) throw err;
      outcome = await reconcile(winner);
    }
  }
  logger.info({ email: admin.email.toLowerCase(), outcome }, 'admin account ensured');
  return outcome;
}
