import assert from 'node:assert/strict';
import { test } from 'node:test';
import { noteProcessHandler } from './note-process.ts';
import { HandlerRegistry, HandlerRegistryError, type JobHandler } from './registry.ts';
import { createWebhookDeliverHandler } from './webhook-deliver.ts';

const webhook = createWebhookDeliverHandler(async () => ({ status: 200, durationMs: 0 }));

test('one handler per kind builds, and finds each', () => {
  const registry = new HandlerRegistry([noteProcessHandler, webhook]);
  assert.equal(registry.get('note.process'), noteProcessHandler);
  assert.equal(registry.get('webhook.deliver'), webhook);
});

test('a kind without a handler refuses to start', () => {
  assert.throws(() => new HandlerRegistry([noteProcessHandler]), HandlerRegistryError);
  assert.throws(() => new HandlerRegistry([]), /no handler for note.process; no handler for webhook.deliver/);
});

test('a kind with two handlers refuses to start', () => {
  assert.throws(
    () => new HandlerRegistry([noteProcessHandler, webhook, noteProcessHandler]),
    /two handlers for note.process/,
  );
});

test('a handler for a kind the contract does not know refuses to start', () => {
  const stray = { kind: 'note.explode', handle: async () => ({}) } as unknown as JobHandler;
  assert.throws(() => new HandlerRegistry([noteProcessHandler, webhook, stray]), /unknown kind note.explode/);
});
