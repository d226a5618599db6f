import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jobs, notes } from './schema.ts';
import { insertStatements, rowInsert, sqlValue } from './sql-writer.ts';

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
