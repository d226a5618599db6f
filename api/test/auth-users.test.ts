import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestNamespace, type TestNamespace } from '@notes/contracts/testing';
import * as argon2 from 'argon2';
import pino from 'pino';
import { uuidv7 } from 'uuidv7';
import { AdminBootstrapRefusedError, ensureAdmin } from '../src/modules/auth/admin-bootstrap.ts';
import {
  findUserByEmail,
  getUserById,
  insertUser,
  isDuplicateKey,
  listUsers,
  toPublicUser,
  updateUser,
} from '../src/modules/auth/users-repository.ts';
import { createDatabase, type Database, migrateDatabase } from '../src/platform/db/client.ts';

/** The admin bootstrap and the users repository, against a real database of this file's own. */
let ns: TestNamespace;
let database: Database;
const silent = pino({ level: 'silent' });

before(async () => {
  ns = await createTestNamespace('authusers');
  await migrateDatabase(ns.config());
  database = createDatabase(ns.config());
});
after(async () => {
  await database?.close();
  await ns?.cleanup();
});

const adminConfig = (email: string, password: string) => ns.config({ ADMIN_EMAIL: email, ADMIN_PASSWORD: password });

describe('ensureAdmin', () => {
  test('does nothing without ADMIN_EMAIL/ADMIN_PASSWORD', async () => {
    assert.equal(await ensureAdmin(ns.config(), database, silent), 'skipped');
  });

  test('creates the admin once; running it again changes nothing', async () => {
    const config = adminConfig('Boss@Example.test', 'boss-password');
    assert.equal(await ensureAdmin(config, database, silent), 'created');
    const first = await findUserByEmail(database.db, 'boss@example.test');
    assert.ok(first);
    assert.equal(first.email, 'boss@example.test');
    assert.equal(first.role, 'admin');
    assert.equal(first.disabled, false);
    assert.match(first.passwordHash, /^\$argon2id\$/);
    assert.equal(await argon2.verify(first.passwordHash, 'boss-password'), true);

    assert.equal(await ensureAdmin(config, database, silent), 'unchanged');
    assert.equal(await ensureAdmin(config, database, silent), 'unchanged');
    const again = await findUserByEmail(database.db, 'boss@example.test');
    assert.deepEqual(again, first, 'the row is untouched, hash and updated_at included');
    const { total } = await listUsers(database.db, { limit: 100, offset: 0, q: 'boss@example.test' });
    assert.equal(total, 1);
  });

  test('an existing admin gets the password and is enabled again; its earlier tokens are revoked', async () => {
    const email = 'reset-me@example.test';
    const row = await insertUser(database.writer, {
      id: uuidv7(),
      name: 'Old admin',
      email,
      passwordHash: await argon2.hash('old-password'),
      role: 'admin',
      now: new Date(),
    });
    await updateUser(database.writer, row.id, { disabled: true });
    assert.equal(await ensureAdmin(adminConfig(email, 'new-password'), database, silent), 'updated');
    const after1 = await getUserById(database.db, row.id);
    assert.ok(after1);
    assert.deepEqual([after1.role, after1.disabled, after1.tokenVersion], ['admin', false, 1]);
    assert.equal(await argon2.verify(after1.passwordHash, 'new-password'), true);
    assert.equal(await argon2.verify(after1.passwordHash, 'old-password'), false);
    assert.equal(await ensureAdmin(adminConfig(email, 'new-password'), database, silent), 'unchanged');
    assert.equal((await getUserById(database.db, row.id))?.tokenVersion, 1, 'unchanged means untouched');
  });

  test('an existing non-admin is never promoted silently: start-up refuses and changes nothing', async () => {
    const email = 'squatter@example.test';
    const row = await insertUser(database.writer, {
      id: uuidv7(),
      name: 'Got there first',
      email,
      passwordHash: await argon2.hash('attacker-password'),
      now: new Date(),
    });
    // Any spelling of the address is the same account.
    for (const spelling of [email, 'Squatter@Example.TEST']) {
      await assert.rejects(ensureAdmin(adminConfig(spelling, 'operator-password'), database, silent), (err: Error) => {
        assert.ok(err instanceof AdminBootstrapRefusedError);
        assert.match(err.message, /ADMIN_PROMOTE_EXISTING/);
        assert.ok(err.message.includes(row.id));
        return true;
      });
    }
    const untouched = await getUserById(database.db, row.id);
    assert.deepEqual([untouched?.role, untouched?.tokenVersion], ['user', 0]);
    assert.equal(await argon2.verify(untouched?.passwordHash ?? '', 'attacker-password'), true);
  });

  test('ADMIN_PROMOTE_EXISTING=true promotes it, sets the password, and revokes its tokens', async () => {
    const email = 'known-colleague@example.test';
    const row = await insertUser(database.writer, {
      id: uuidv7(),
      name: 'Colleague',
      email,
      passwordHash: await argon2.hash('their-password'),
      now: new Date(),
    });
    const config = ns.config({
      ADMIN_EMAIL: email,
      ADMIN_PASSWORD: 'operator-password',
      ADMIN_PROMOTE_EXISTING: 'true',
    });
    assert.equal(await ensureAdmin(config, database, silent), 'promoted');
    const promoted = await getUserById(database.db, row.id);
    assert.deepEqual([promoted?.role, promoted?.tokenVersion], ['admin', 1]);
    assert.equal(await argon2.verify(promoted?.passwordHash ?? '', 'operator-password'), true);
    assert.equal(await ensureAdmin(config, database, silent), 'unchanged');
  });

  test('two instances starting at once end with one admin', async () => {
    const config = adminConfig('race@example.test', 'race-password');
    const outcomes = await Promise.all([ensureAdmin(config, database, silent), ensureAdmin(config, database, silent)]);
    assert.ok(outcomes.includes('created'), outcomes.join());
    const { total, items } = await listUsers(database.db, { limit: 10, offset: 0, q: 'race@' });
    assert.equal(total, 1);
    assert.equal(items[0]?.role, 'admin');
  });
});

describe('users repository', () => {
  const tag = `lst${Date.now().toString(36)}`;
  before(async () => {
    const base = Date.parse('2024-01-01T00:00:00Z');
    const names = ['Carol', 'alice', 'Bob', 'dave_x', 'Eve%'];
    for (const [i, name] of names.entries()) {
      await insertUser(database.writer, {
        id: uuidv7(),
        name: `${name} ${tag}`,
        email: `${name.replace(/\W/g, '').toLowerCase()}.${tag}@example.test`,
        passwordHash: 'not-a-real-hash',
        now: new Date(base + i * 1000),
      });
    }
  });

  test('listUsers filters by q (case-insensitive, literal % and _), sorts and pages', async () => {
    const all = await listUsers(database.db, { limit: 100, offset: 0, q: tag.toUpperCase() });
    assert.equal(all.total, 5);
    // Default: newest first.
    assert.deepEqual(
      all.items.map((u) => u.name.split(' ')[0]),
      ['Eve%', 'dave_x', 'Bob', 'alice', 'Carol'],
    );
    const byName = await listUsers(database.db, { limit: 2, offset: 1, q: tag, sort: 'name' });
    assert.equal(byName.total, 5);
    assert.deepEqual(
      byName.items.map((u) => u.name.split(' ')[0]),
      ['Bob', 'Carol'],
    );
    assert.equal((await listUsers(database.db, { limit: 10, offset: 0, q: `e% ${tag}` })).total, 1);
    assert.equal((await listUsers(database.db, { limit: 10, offset: 0, q: `e_x ${tag}` })).total, 1);
    assert.equal((await listUsers(database.db, { limit: 10, offset: 0, q: `_x` })).items[0]?.name, `dave_x ${tag}`);
    const ascending = await listUsers(database.db, { limit: 10, offset: 0, q: tag, sort: 'created_at' });
    assert.equal(ascending.items[0]?.name, `Carol ${tag}`);
  });

  test('listUsers filters by role and disabled', async () => {
    const [target] = (await listUsers(database.db, { limit: 1, offset: 0, q: `bob.${tag}` })).items;
    assert.ok(target);
    await updateUser(database.writer, target.id, { disabled: true });
    const disabled = await listUsers(database.db, { limit: 10, offset: 0, q: tag, disabled: true });
    assert.deepEqual(
      disabled.items.map((u) => u.id),
      [target.id],
    );
    const admins = await listUsers(database.db, { limit: 10, offset: 0, q: tag, role: 'admin' });
    assert.equal(admins.total, 0);
  });

  test('updateUser changes role and disabled, bumps updated_at, and answers null for no such user', async () => {
    const [target] = (await listUsers(database.db, { limit: 1, offset: 0, q: `carol.${tag}` })).items;
    assert.ok(target);
    const later = new Date(target.updatedAt.getTime() + 5000);
    const updated = await updateUser(database.writer, target.id, { role: 'admin', disabled: true }, later);
    assert.equal(updated?.role, 'admin');
    assert.equal(updated?.disabled, true);
    assert.equal(updated?.updatedAt.getTime(), later.getTime());
    assert.equal(updated?.passwordHash, target.passwordHash, 'untouched fields stay');
    assert.equal(await updateUser(database.writer, uuidv7(), { role: 'admin' }), null);
    assert.equal(await getUserById(database.db, uuidv7()), null);
  });

  test('a second insert of the same email (any case) is a duplicate key', async () => {
    const row = { id: uuidv7(), name: 'Dup', email: `dup.${tag}@example.test`, passwordHash: 'x', now: new Date() };
    await insertUser(database.writer, row);
    const err = await insertUser(database.writer, { ...row, id: uuidv7(), email: row.email.toUpperCase() }).catch(
      (e: unknown) => e,
    );
    assert.equal(isDuplicateKey(err), true);
    assert.equal(isDuplicateKey(new Error('other')), false);
  });

  test('toPublicUser never carries the hash', async () => {
    const row = await findUserByEmail(database.db, `alice.${tag}@example.test`);
    assert.ok(row);
    const pub = toPublicUser(row);
    assert.deepEqual(Object.keys(pub).sort(), ['created_at', 'disabled', 'email', 'id', 'name', 'role']);
    assert.equal(pub.created_at, '2024-01-01T00:00:01.000Z');
  });
});
