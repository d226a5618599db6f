import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PRIORITIES } from '@notes/contracts';
import { MySqlDialect } from 'drizzle-orm/mysql-core';
import { CursorError, decodeCursor, encodeCursor, MAX_OFFSET, planPage, type SortKey } from './keyset.ts';
import { jobs, notes } from './schema.ts';

const dialect = new MySqlDialect();
type Row = Record<string, unknown>;
const byPriority: SortKey<Row>[] = [
  { column: notes.priority, get: (r) => r.priority, enumValues: PRIORITIES },
  { column: notes.createdAt, get: (r) => r.createdAt },
  { column: notes.id, get: (r) => r.id },
];

test('a cursor round-trips its keys, dates revived as dates', () => {
  const at = new Date('2026-01-02T03:04:05.678Z');
  const cursor = encodeCursor('-priority', ['high', at, 'id-1']);
  assert.deepEqual(decodeCursor(cursor, '-priority', byPriority), ['high', at, 'id-1']);
});

test('a cursor of another sort, a forged one or one with bad values is a CursorError', () => {
  const good = encodeCursor('priority', ['high', new Date(), 'x']);
  assert.throws(() => decodeCursor(good, '-priority', byPriority), CursorError);
  for (const v of [
    ['urgent', '2026-01-01T00:00:00Z', 'x'],
    ['high', 'not a date', 'x'],
    ['high', '2026-01-01T00:00:00Z'],
    ['high', null, 'x'],
    ['high', { $gt: 1 }, 'x'],
  ]) {
    const forged = Buffer.from(JSON.stringify({ s: 'priority', v })).toString('base64url');
    assert.throws(() => decodeCursor(forged, 'priority', byPriority), CursorError, JSON.stringify(v));
  }
  assert.throws(() => decodeCursor('%%%', 'priority', byPriority), CursorError);
});

test('"after" an ENUM is the set of later values (ENUMs compare as strings otherwise)', () => {
  const cursor = encodeCursor('priority', ['high', new Date('2026-01-01T00:00:00Z'), 'x']);
  const plan = planPage({ keys: byPriority }, { sort: 'priority', limit: 10, cursor });
  const { sql, params } = dialect.sqlToQuery(plan.after as never);
  assert.match(sql, /`priority` in \(\?, \?\)/);
  assert.deepEqual(params.slice(0, 2), ['critical', 'max']);
  assert.equal(plan.fetch, 11, 'one row more than the page, to know whether there is a next one');
});

test('descending past a NULL, the NULL key leaves the ORDER BY (MariaDB would sort otherwise)', () => {
  const keys: SortKey<Row>[] = [
    { column: jobs.finishedAt, get: (r) => r.finishedAt },
    { column: jobs.id, get: (r) => r.id },
  ];
  const cursor = encodeCursor('-finished_at', [null, 'x']);
  const plan = planPage({ keys }, { sort: '-finished_at', limit: 5, cursor });
  assert.equal(plan.orderBy.length, 1);
  const { sql } = dialect.sqlToQuery(plan.after as never);
  assert.match(sql, /`finished_at` is null and `jobs`.`id` < \?/);
});

test('offset is bounded and does not mix with a cursor', () => {
  const order = { keys: byPriority };
  assert.throws(() => planPage(order, { sort: 'priority', limit: 5, offset: MAX_OFFSET + 1 }), /offset/);
  const cursor = encodeCursor('priority', ['low', new Date(), 'x']);
  assert.throws(() => planPage(order, { sort: 'priority', limit: 5, offset: 5, cursor }), /either cursor or offset/);
});
