import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '@notes/contracts';
import { nodeFlags } from '../lib/node-flags.ts';

/** The V8 flags npm start gives the API and the consumers, and the images' CMDs (same defaults). */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function cmdFlags(workspace: string): string[] {
  const file = readFileSync(`${ROOT}/${workspace}/Dockerfile`, 'utf8');
  const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(file)?.[1] ?? '[]') as string[];
  return cmd.filter((a) => a.startsWith('--max-'));
}

describe('node flags', () => {
  it('gives the API the configured semi-space and the consumers none', () => {
    const config = loadConfig({});
    assert.equal(config.apiSemiSpaceMb, 16);
    assert.deepEqual(nodeFlags('api', config), ['--max-old-space-size=256', '--max-semi-space-size=16']);
    assert.deepEqual(nodeFlags('api', loadConfig({ API_SEMI_SPACE_MB: '32' })).at(-1), '--max-semi-space-size=32');
    assert.deepEqual(nodeFlags('consumer', config), ['--max-old-space-size=256']);
  });

  it('refuses a semi-space that is not a power of two from 1 to 64', () => {
    for (const bad of ['24', '0', '128', 'x']) {
      assert.throws(() => loadConfig({ API_SEMI_SPACE_MB: bad }), ConfigError, bad);
    }
  });

  it('matches the images: each Dockerfile CMD passes what npm start passes by default', () => {
    const config = loadConfig({});
    assert.deepEqual(cmdFlags('api'), nodeFlags('api', config));
    assert.deepEqual(cmdFlags('consumers'), nodeFlags('consumer', config));
  });
});
