import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventPayload, readEventPayload } from '../src/modules/events/event-rows.ts';

const user = '0190a8c1-0000-7000-8000-000000000001';

/** A payload as versions before events by reference wrote every event: its data inline. */
const inlinePayload = (type: string, json: string) =>
  `{"kind":"live.event","user_id":${JSON.stringify(user)},"type":"${type}","data":${json}}`;

test('an event carrying a note refers to it: the row holds no note, whatever its size', () => {
  for (const type of ['note.created', 'note.updated', 'note.processed', 'note.dead'] as const) {
    const payload = eventPayload(user, type, 'n1');
    assert.deepEqual(readEventPayload(payload), { userId: user, type, dataJson: null, noteId: 'n1' });
    assert.ok(!payload.includes('"data"'), payload);
  }
});

test('a note.deleted event carries its data, {id}, inline', () => {
  const read = readEventPayload(eventPayload(user, 'note.deleted', 'n2'));
  assert.deepEqual(read, { userId: user, type: 'note.deleted', dataJson: '{"id":"n2"}', noteId: null });
});

test('an inline event an earlier version wrote reads back with its data as stored, not parsed and serialised again', () => {
  // A title that looks like the separator, escapes, astral characters: the data comes back byte for byte.
  const data = { id: 'n1', title: 'a ,"data": b \\ "q" 😀', tags: ['x'], nested: { data: 1 } };
  const json = JSON.stringify(data);
  const read = readEventPayload(inlinePayload('note.created', json));
  assert.deepEqual(read, { userId: user, type: 'note.created', dataJson: json, noteId: null });
  assert.deepEqual(JSON.parse(read.dataJson ?? ''), data);
});
