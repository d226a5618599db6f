import { normalizeEmail } from '@notes/contracts';
import type { Connection } from 'mysql2/promise';

/**
 * The data half of migration 0001_security, run by migrateDatabase before it (under the same
 * lock). That migration makes `users.email` byte-exact; rows written before it were only trimmed
 * and lower-cased, and compared accent-insensitively, so they are brought to the normal form
 * first (NFC: docs/security.md). Two rows that normalise to one email would be one person with
 * two accounts: nothing is guessed, start-up stops and names both rows for an operator to merge
 * or rename. Once the column is binary this does nothing (one information_schema read).
 */
export class EmailCollisionError extends Error {
  override name = 'EmailCollisionError';
}

export async function normaliseStoredEmails(conn: Connection): Promise<number> {
  const [columns] = await conn.query(
    `SELECT COLLATION_NAME AS collation FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' AND COLUMN_NAME = 'email'`,
  );
  const collation = (columns as { collation: string | null }[])[0]?.collation;
  if (!collation || collation === 'utf8mb4_bin') return 0; // no table yet, or already migrated

  const [rows] = await conn.query('SELECT id, email FROM users');
  const byEmail = new Map<string, { id: string; email: string }[]>();
  for (const row of rows as { id: string; email: string }[]) {
    const key = normalizeEmail(row.email);
    byEmail.set(key, [...(byEmail.get(key) ?? []), row]);
  }
  const collisions = [...byEmail.entries()].filter(([, same]) => same.length > 1);
  if (collisions.length) {
    const lines = collisions.map(
      ([email, same]) => `  ${email}: ${same.map((r) => `${r.id} (${JSON.stringify(r.email)})`).join(', ')}`,
    );
    throw new EmailCollisionError(
      `migration 0001_security refused: these users' emails are the same once normalised (trim, NFC, lower case). ` +
        `Merge or rename all but one of each (UPDATE users SET email = ... WHERE id = ...), then start again:\n${lines.join('\n')}`,
    );
  }
  let changed = 0;
  for (const [email, [row]] of byEmail) {
    if (row && row.email !== email) {
      await conn.query('UPDATE users SET email = ? WHERE id = ?', [email, row.id]);
      changed++;
    }
  }
  return changed;
}
