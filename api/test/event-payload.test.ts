import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventPayload, readEventPayload } from '../src/modules/events/event-rows.ts';

const user = '0190a8c1-0000-7000-8000-000000000001';

test('an inline event reads back with its data as stored, not parsed and serialised again', () => {
  // A title that looks like the separator, escapes, astral characters: the data comes back byte for byte.
  const data = { id: 'n1', title: 'a ,"data": b \\ "q" 😀', tags: ['x'], nested: { data: 1 } };
  const json = JSON.stringify(data);
  const read = readEventPayload(eventPayload(user, 'note.created', data, json));
  assert.deepEqual(read, { userId: user, type: 'note.created', dataJson: json, noteId: null });
  assert.deepEqual(JSON.parse(read.dataJson ?? ''), data);
  assert.equal(readEventPayload(eventPayload(user, 'note.deleted', { id: 'n2' })).dataJson, '{"id":"n2"}');
});

test('an event too large to store inline reads back as a reference to its note', () => {
  const data = { id: 'big', body: 'x'.repeat(70_000) };
  const read = readEventPayload(eventPayload(user, 'note.updated', data));
  assert.deepEqual(read, { userId: user, type: 'note.updated', dataJson: null, noteId: 'big' });
});
