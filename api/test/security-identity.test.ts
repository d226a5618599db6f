import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createTestNamespace, type TestNamespace } from '@notes/contracts/testing';
import { drizzle } from 'drizzle-orm/mysql2';
import { migrate } from 'drizzle-orm/mysql2/migrator';
import mysql from 'mysql2/promise';
import { uuidv7 } from 'uuidv7';
import { hashPassword } from '../src/modules/auth/password-hasher.ts';
import { insertUser, normalizeEmail } from '../src/modules/auth/users-repository.ts';
import { MIGRATIONS_FOLDER, migrateDatabase } from '../src/platform/db/client.ts';
import { EmailCollisionError } from '../src/platform/db/email-normalisation.ts';
import { type AuthTestApp, login, register, startAuthTestApp } from './auth-helpers.ts';

/**
 * One identity per person (docs/security.md), played as an attacker with an account of their own
 * against the real API, MariaDB and Redis: look-alike spellings of someone's email neither log
 * in to that account nor register it again, re-spelling the email is no way round a lock-out,
 * and one address cannot spread guesses over many accounts. Then the migration that brings
 * existing rows to the same rule.
 */
let t: AuthTestApp;
before(async () => {
  // The per-address request rate (docs/isolation.md) is off here: what is tested is the
  // failed-login throttle, which must hold on its own.
  t = await startAuthTestApp('secid', { AUTH_ADDRESS_RATE_PER_MINUTE: '0' });
});
after(() => t?.close());

const tag = () => randomBytes(3).toString('hex');
const PASSWORD = 'victim-password-1';

async function victim(local: string) {
  const email = `${local}@example.test`;
  const res = await register(t.app, { name: 'Victim', email, password: PASSWORD });
  assert.equal(res.statusCode, 201, res.body);
  return { email, id: res.json().user.id as string };
}

describe('look-alike emails', () => {
  test('accented look-alikes, composed or not, are other addresses: they cannot log in to the account', async () => {
    const id = tag();
    const { email, id: userId } = await victim(`sec-${id}`);
    const lookalikes = [
      `śec-${id}@example.test`,
      `séc-${id}@example.test`,
      `se\u0301c-${id}@example.test`,
      `ŝec-${id}@example.test`,
    ];
    for (const lookalike of lookalikes) {
      const res = await login(t.app, lookalike, PASSWORD, '10.1.0.1');
      assert.equal(res.statusCode, 401, `${JSON.stringify(lookalike)} must not reach ${email}`);
    }
    // Case and surrounding space are the same address: the account itself, and no second one.
    for (const spelling of [`SEC-${id}@EXAMPLE.TEST`, `  sec-${id}@example.test `]) {
      const res = await login(t.app, spelling, PASSWORD, '10.1.0.1');
      assert.equal(res.statusCode, 200, spelling);
      assert.equal(res.json().user.id, userId);
    }
    const again = await register(t.app, { name: 'Attacker', email: `Sec-${id}@Example.TEST`, password: 'attacker-pw' });
    assert.equal(again.statusCode, 409);
  });

  test('an accented address matches itself in NFC and NFD, and nothing accent-free', async () => {
    const id = tag();
    // Registration takes ASCII addresses (the email format); such a row comes from ADMIN_EMAIL
    // or an older database, so it is written the way the service writes it.
    const email = `josé-${id}@example.test`;
    const row = await insertUser(t.deps.database.writer, {
      id: uuidv7(),
      name: 'José',
      email: normalizeEmail(email),
      passwordHash: await hashPassword(PASSWORD),
      now: new Date(),
    });
    for (const spelling of [
      email,
      `jose\u0301-${id}@example.test`,
      `JOSÉ-${id}@EXAMPLE.TEST`,
      `JOSE\u0301-${id}@example.test`,
    ]) {
      const res = await login(t.app, spelling, PASSWORD, '10.1.0.2');
      assert.equal(res.statusCode, 200, JSON.stringify(spelling));
      assert.equal(res.json().user.id, row.id);
    }
    assert.equal((await login(t.app, `jose-${id}@example.test`, PASSWORD, '10.1.0.2')).statusCode, 401);
    const plain = await register(t.app, { name: 'Jose', email: `jose-${id}@example.test`, password: 'another-pw-1' });
    assert.equal(plain.statusCode, 201, 'the accent-free address is somebody else');
    assert.notEqual(plain.json().user.id, row.id);
  });
});

describe('the login throttle', () => {
  test('a lock-out holds whatever the spelling, and the right password does not get through it', async () => {
    const id = tag();
    const { email } = await victim(`lock-${id}`);
    const address = '10.2.0.1';
    const spellings = [email, email.toUpperCase(), ` ${email}`, email.replace('lock', 'LOCK')];
    for (let i = 0; i < 10; i++) {
      const res = await login(t.app, spellings[i % spellings.length] as string, `wrong-${i}`, address);
      assert.equal(res.statusCode, 401, `failure ${i + 1}`);
    }
    for (const spelling of spellings) {
      const res = await login(t.app, spelling, PASSWORD, address);
      assert.equal(res.statusCode, 429, `right password as ${JSON.stringify(spelling)}`);
      assert.ok(Number(res.headers['retry-after']) > 0);
      assert.match(res.json().detail, /failed logins/);
    }
    // Look-alikes are other (unknown) accounts: the right password under them is a plain 401.
    for (const lookalike of [email.replace('lock', 'lóck'), email.replace('lock', 'lo\u0301ck')]) {
      assert.equal((await login(t.app, lookalike, PASSWORD, address)).statusCode, 401, lookalike);
    }
    // Another address is not locked out of the account.
    assert.equal((await login(t.app, email, PASSWORD, '10.2.0.2')).statusCode, 200);
  });

  test('one address spraying guesses over many accounts runs out, even for its own account', async () => {
    const address = '10.3.0.1';
    const own = await victim(`own-${tag()}`);
    for (let i = 0; i < 50; i++) {
      const res = await login(t.app, `target-${i}-${tag()}@example.test`, 'guess', address);
      assert.equal(res.statusCode, 401, `guess ${i + 1}`);
    }
    const refused = await login(t.app, own.email, PASSWORD, address);
    assert.equal(refused.statusCode, 429);
    assert.ok(Number(refused.headers['retry-after']) > 0);
    assert.equal(
      (await login(t.app, own.email, PASSWORD, '10.3.0.2')).statusCode,
      200,
      'other addresses are unaffected',
    );
  });
});

describe('migration 0001_security on existing rows', () => {
  let ns: TestNamespace;
  let tmp: string;
  let conn: mysql.Connection;
  before(async () => {
    ns = await createTestNamespace('secmig');
    tmp = mkdtempSync(path.join(tmpdir(), 'secmig-'));
    // The schema as it was before this migration: only 0000_init.
    mkdirMeta(tmp);
    conn = await mysql.createConnection({ uri: ns.databaseUrl, timezone: 'Z' });
    await migrate(drizzle(conn), { migrationsFolder: tmp });
  });
  after(async () => {
    await conn?.end();
    rmSync(tmp, { recursive: true, force: true });
    await ns?.cleanup();
  });

  const insert = (id: string, email: string) =>
    conn.query(
      `INSERT INTO users (id, email, name, password_hash, role, disabled, created_at, updated_at)
       VALUES (?, ?, 'Old', 'x', 'user', 0, NOW(3), NOW(3))`,
      [id, email],
    );

  test('two rows that are one email once normalised stop the migration, named, with nothing changed', async () => {
    // Rows the old unique key let through (written around the app, or under another collation).
    await conn.query('ALTER TABLE users DROP INDEX users_email_unique');
    await insert('old-1', 'twin@example.test');
    await insert('old-2', 'Twin@Example.test ');
    await insert('old-3', 'caf\u0065\u0301@example.test'); // NFD, alone: to be normalised
    await assert.rejects(migrateDatabase(ns.config()), (err: Error) => {
      assert.ok(err instanceof EmailCollisionError);
      assert.match(err.message, /old-1/);
      assert.match(err.message, /old-2/);
      assert.match(err.message, /twin@example\.test/);
      assert.doesNotMatch(err.message, /old-3/);
      return true;
    });
    const [rows] = await conn.query('SELECT id, email FROM users ORDER BY id');
    assert.deepEqual(rows, [
      { id: 'old-1', email: 'twin@example.test' },
      { id: 'old-2', email: 'Twin@Example.test ' },
      { id: 'old-3', email: 'cafe\u0301@example.test' },
    ]);
  });

  test('once the operator resolves it, the migration normalises the rest and compares exactly', async () => {
    await conn.query("UPDATE users SET email = 'twin-2@example.test' WHERE id = 'old-2'");
    await conn.query('ALTER TABLE users ADD UNIQUE INDEX users_email_unique (email)');
    await migrateDatabase(ns.config());
    await migrateDatabase(ns.config()); // twice is harmless
    const [rows] = await conn.query('SELECT id, email, token_version FROM users ORDER BY id');
    assert.deepEqual(rows, [
      { id: 'old-1', email: 'twin@example.test', token_version: 0 },
      { id: 'old-2', email: 'twin-2@example.test', token_version: 0 },
      { id: 'old-3', email: 'caf\u00e9@example.test', token_version: 0 },
    ]);
    const [[column]] = (await conn.query(
      `SELECT COLLATION_NAME AS c FROM information_schema.COLUMNS
        WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' AND COLUMN_NAME = 'email'`,
    )) as unknown as [{ c: string }[]];
    assert.equal(column?.c, 'utf8mb4_bin');
    // Exact now: an accent-free look-alike is another row, not a duplicate of the old one.
    await insert('new-1', 'cafe@example.test');
    await assert.rejects(insert('new-2', 'caf\u00e9@example.test'), /Duplicate entry/);
  });
});

/** A migrations folder holding only 0000_init (the schema before this migration). */
function mkdirMeta(dir: string): void {
  const journal = JSON.parse(readFileSync(path.join(MIGRATIONS_FOLDER, 'meta/_journal.json'), 'utf8'));
  const first = journal.entries[0];
  assert.equal(first.tag, '0000_init');
  mkdirSync(path.join(dir, 'meta'), { recursive: true });
  writeFileSync(path.join(dir, 'meta/_journal.json'), JSON.stringify({ ...journal, entries: [first] }));
  writeFileSync(path.join(dir, '0000_init.sql'), readFileSync(path.join(MIGRATIONS_FOLDER, '0000_init.sql')));
}
