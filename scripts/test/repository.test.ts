import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CONFIG_VARIABLES } from '@notes/contracts';

/**
 * The repository stands on its own (docs/architecture.md): its documents cover what the code
 * reads, and every top-level folder says what belongs in it.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

/** The rows of the first table under a `## heading`: cells, trimmed, without the header rows. */
function tableUnder(markdown: string, heading: string): string[][] {
  const from = markdown.indexOf(`\n## ${heading}\n`);
  assert.ok(from >= 0, `no "## ${heading}" section`);
  const rows: string[][] = [];
  for (const line of markdown.slice(from).split('\n').slice(2)) {
    if (line.startsWith('## ')) break;
    if (!line.startsWith('|')) {
      if (rows.length > 0) break;
      continue;
    }
    rows.push(
      line
        .slice(1, -1)
        .split(' | ')
        .map((c) => c.trim()),
    );
  }
  return rows.slice(2);
}

test('docs/configuration.md has a row for every variable config.ts reads, with its default', () => {
  const rows = tableUnder(read('docs/configuration.md'), 'Variables');
  const byName = new Map<string, string>();
  for (const [names = '', defaults = ''] of rows) {
    for (const name of names.matchAll(/`([A-Z0-9_]+)`/g)) byName.set(name[1] ?? '', defaults);
  }
  assert.ok(CONFIG_VARIABLES.length > 20, `config.ts reads ${CONFIG_VARIABLES.length} variables`);
  const missing = CONFIG_VARIABLES.filter((v) => !byName.has(v.name)).map((v) => v.name);
  assert.deepEqual(missing, [], `add a row to docs/configuration.md for: ${missing.join(', ')}`);
  for (const v of CONFIG_VARIABLES) {
    const documented = byName.get(v.name) ?? '';
    if (v.default === undefined || v.default === '') {
      assert.match(documented, /^unset/, `${v.name} has no default in config.ts`);
    } else {
      const shown = `\`${String(v.default)}\``;
      assert.ok(documented.includes(shown), `${v.name}: default ${shown}, docs say ${documented}`);
    }
  }
  const known = new Set(CONFIG_VARIABLES.map((v) => v.name));
  const extra = [...byName.keys()].filter((name) => !known.has(name));
  assert.deepEqual(extra, [], 'rows for variables config.ts does not read');
});

test('every top-level folder has a README saying what belongs in it', () => {
  // Folders the build and the tests make (node_modules/, test-output/, …) are in .gitignore.
  const ignored = new Set(
    read('.gitignore')
      .split('\n')
      .filter((l) => l.endsWith('/'))
      .map((l) => l.slice(0, -1)),
  );
  const folders = readdirSync(ROOT, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('.') && !ignored.has(d.name))
    .map((d) => d.name);
  assert.ok(folders.includes('api') && folders.includes('docs'), folders.join(', '));
  const without = folders.filter((f) => !existsSync(path.join(ROOT, f, 'README.md')));
  assert.deepEqual(without, [], 'folders without a README.md');
});

test('the documents the code cites exist', () => {
  for (const doc of ['guarantees', 'configuration', 'architecture']) {
    assert.ok(existsSync(path.join(ROOT, 'docs', `${doc}.md`)), `docs/${doc}.md`);
  }
});
