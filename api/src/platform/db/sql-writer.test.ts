import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deadLetters, idempotencyFences, jobControls, jobs, notes, users } from './schema.ts';
import {
  atMost,
  Increment,
  insertStatements,
  rowDelete,
  rowInsert,
  rowUpdate,
  rowUpsert,
  sqlValue,
} from './sql-writer.ts';

const when = new Date('2026-01-02T03:04:05.678Z');
const note = (id: string) =>
  rowInsert(notes, { id, userId: 'u', title: 't', body: 'b', createdAt: when, updatedAt: when, result: null });

test('rowInsert names the schema columns and leaves undefined properties to their defaults', () => {
  const row = rowInsert(notes, {
    id: 'n1',
    userId: 'u1',
    title: 'title',
    body: 'body',
    lastError: undefined,
    createdAt: when,
    updatedAt: when,
  });
  assert.equal(row.table, 'notes');
  assert.deepEqual(row.columns, ['id', 'user_id', 'title', 'body', 'created_at', 'updated_at']);
  assert.deepEqual(row.values, ['n1', 'u1', 'title', 'body', when, when]);
});

test('JSON values are serialised; dates, buffers and scalars pass through for mysql2 to escape', () => {
  assert.equal(sqlValue({ a: [1, 'x'] }), '{"a":[1,"x"]}');
  assert.equal(sqlValue(when), when);
  const buf = Buffer.from('x');
  assert.equal(sqlValue(buf), buf);
  assert.equal(sqlValue(null), null);
  assert.equal(sqlValue(3), 3);
});

test('rows of a table with the same columns merge into one INSERT, tables in order of first appearance', () => {
  const job = rowInsert(jobs, {
    id: 'j1',
    noteId: 'n1',
    userId: 'u',
    kind: 'note.process',
    priority: 'normal',
    noteVersion: 1,
    createdAt: when,
    updatedAt: when,
  });
  const statements = insertStatements([note('n1'), job, note('n2')]);
  assert.equal(statements.length, 2);
  const [first, second] = statements;
  assert.match(
    first!.sql,
    /^INSERT INTO `notes` \(`id`,`user_id`,`title`,`body`,`created_at`,`updated_at`,`result`\) VALUES /,
  );
  assert.equal(first!.sql.match(/\(\?,\?,\?,\?,\?,\?,\?\)/g)?.length, 2);
  assert.deepEqual(first!.values, [...note('n1').values, ...note('n2').values]);
  assert.match(second!.sql, /^INSERT INTO `jobs` /);
  assert.deepEqual(second!.values, job.values);
});

test('rows with different column lists stay separate statements', () => {
  const full = note('n1');
  const partial = rowInsert(notes, { id: 'n2', userId: 'u', title: 't', body: 'b', createdAt: when, updatedAt: when });
  assert.equal(insertStatements([full, partial]).length, 2);
});

test('a property the table does not have is refused, never guessed', () => {
  assert.throws(() => rowInsert(notes, { id: 'n', nope: 1 } as never), /no column for nope/);
});

test('rowUpdate and rowDelete name the schema columns; where takes =, IN, IS NULL and comparisons', () => {
  const update = rowUpdate(
    users,
    { disabled: true, tokenVersion: new Increment(1), updatedAt: when, name: undefined },
    { id: 'u1', role: ['user', 'admin'] },
  );
  assert.equal(
    update.sql,
    'UPDATE `users` SET `disabled` = ?, `token_version` = `token_version` + ?, `updated_at` = ? WHERE `id` = ? AND `role` IN (?)',
  );
  assert.deepEqual(update.values, [true, 1, when, 'u1', ['user', 'admin']]);
  const del = rowDelete(idempotencyFences, { userId: 'u', expiresAt: atMost(when) }, { limit: 10 });
  assert.equal(del.sql, 'DELETE FROM `idempotency_fences` WHERE `user_id` = ? AND `expires_at` <= ? LIMIT ?');
  assert.deepEqual(del.values, ['u', when, 10]);
  assert.equal(
    rowDelete(deadLetters, { id: ['a'], promoteRun: null }).sql,
    'DELETE FROM `dead_letters` WHERE `id` IN (?) AND `promote_run` IS NULL',
  );
  assert.equal(rowDelete(jobs, { id: [] }).sql, 'DELETE FROM `jobs` WHERE FALSE', 'an empty list matches nothing');
  assert.throws(() => rowDelete(jobs, {}), /without a where/);
  assert.throws(() => rowUpdate(jobs, {}, { id: 'j' }), /sets nothing/);
});

test('rowUpsert updates the named columns from the new row on a duplicate key', () => {
  const upsert = rowUpsert(jobControls, [{ kind: 'k', paused: true, changedAt: when, changedBy: 'me' }], ['paused']);
  assert.equal(
    upsert.sql,
    'INSERT INTO `job_controls` (`kind`,`paused`,`changed_at`,`changed_by`) VALUES (?,?,?,?) ON DUPLICATE KEY UPDATE `paused` = VALUES(`paused`)',
  );
  assert.deepEqual(upsert.values, ['k', true, when, 'me']);
});
