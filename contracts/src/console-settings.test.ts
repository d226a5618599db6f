import assert from 'node:assert/strict';
import { test } from 'node:test';
import { traceUrl } from './console-settings.ts';

test('traceUrl fills every {trace_id}, encoded, and is null without a template or an id', () => {
  const template = 'https://grafana.example/explore?left={"queries":[{"query":"{trace_id}"}]}&id={trace_id}';
  assert.equal(
    traceUrl(template, '4bf92f3577b34da6a3ce929d0e0e4736'),
    'https://grafana.example/explore?left={"queries":[{"query":"4bf92f3577b34da6a3ce929d0e0e4736"}]}&id=4bf92f3577b34da6a3ce929d0e0e4736',
  );
  assert.equal(traceUrl('https://t.example/{trace_id}', 'a b'), 'https://t.example/a%20b');
  assert.equal(traceUrl(null, 'abc'), null);
  assert.equal(traceUrl('https://t.example/{trace_id}', null), null);
});
