import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type FinishedRow, ThroughputWindow } from './throughput-window.ts';

const at = (iso: string) => new Date(iso);
const row = (minute: string, status: FinishedRow['status'], n: number): FinishedRow => ({
  minute: `${minute}:00.000Z`,
  status,
  n,
});

/** A finished-at index as the repository reads it: the rows from `since` on, and every `since` asked. */
function fakeIndex(rows: FinishedRow[]) {
  const asked: string[] = [];
  return {
    asked,
    rows,
    read: async (since: Date) => {
      asked.push(since.toISOString());
      return rows.filter((r) => Date.parse(r.minute) >= since.getTime());
    },
  };
}

test('a poll reads the whole window once, then only the minutes still settling', async () => {
  const index = fakeIndex([
    row('2026-12-06T10:00', 'processed', 7),
    row('2026-12-06T10:00', 'dead', 1),
    row('2026-12-06T10:13', 'processed', 5),
    row('2026-12-06T10:14', 'failed', 2),
  ]);
  const window = new ThroughputWindow(index.read, 15, 15_000);

  const first = await window.perMinute(at('2026-12-06T10:14:20Z'));
  assert.equal(index.asked.at(-1), '2026-12-06T10:00:00.000Z', 'the first poll reads the whole window');
  assert.equal(first.length, 15);
  assert.deepEqual(first[0], { minute: '2026-12-06T10:00:00.000Z', finished: 8, processed: 7, dead: 1 });
  assert.deepEqual(first[14], { minute: '2026-12-06T10:14:00.000Z', finished: 2, processed: 0, dead: 0 });

  // 10:13 ended 20 s before the first poll: settled and remembered; 10:14 is still going.
  const second = await window.perMinute(at('2026-12-06T10:14:50Z'));
  assert.equal(index.asked.at(-1), '2026-12-06T10:14:00.000Z', 'a later poll reads only the current minute');
  assert.deepEqual(second, first, 'remembered minutes answer as read');

  // A row that lands in the open minute is seen; the window slides and drops 10:00.
  index.rows.push(row('2026-12-06T10:14', 'processed', 3));
  const third = await window.perMinute(at('2026-12-06T10:15:05Z'));
  assert.equal(index.asked.at(-1), '2026-12-06T10:14:00.000Z', '10:14 ended 5 s ago: still settling, read again');
  assert.equal(third[0]?.minute, '2026-12-06T10:01:00.000Z');
  assert.deepEqual(third[13], { minute: '2026-12-06T10:14:00.000Z', finished: 5, processed: 3, dead: 0 });
  assert.equal(third[12]?.finished, 5, '10:13 from memory');

  // 10:14 ended 30 s ago: this read is the one remembered, and the next poll starts after it.
  await window.perMinute(at('2026-12-06T10:15:30Z'));
  assert.equal(index.asked.at(-1), '2026-12-06T10:14:00.000Z');
  await window.perMinute(at('2026-12-06T10:15:31Z'));
  assert.equal(index.asked.at(-1), '2026-12-06T10:15:00.000Z', '10:14 settled');
});

test('a minute is remembered only once it has settled, empty minutes included', async () => {
  const index = fakeIndex([]);
  const window = new ThroughputWindow(index.read, 15, 15_000);
  await window.perMinute(at('2026-12-06T10:14:10Z'));
  await window.perMinute(at('2026-12-06T10:14:11Z'));
  // 10:13 ended 10 s before: not settled, so both polls read from it.
  assert.deepEqual(index.asked, ['2026-12-06T10:00:00.000Z', '2026-12-06T10:13:00.000Z']);
  index.rows.push(row('2026-12-06T10:13', 'processed', 1)); // a late commit into 10:13
  const late = await window.perMinute(at('2026-12-06T10:14:16Z'));
  assert.equal(late[13]?.finished, 1, 'a commit that lands while the minute settles is counted');
  assert.equal(index.asked.at(-1), '2026-12-06T10:13:00.000Z');
  await window.perMinute(at('2026-12-06T10:14:17Z'));
  assert.equal(index.asked.at(-1), '2026-12-06T10:14:00.000Z');
});
