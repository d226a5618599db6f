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

/** Every tracked text file: sources, docs, configuration (not dependencies, builds or lockfiles). */
function repositoryFiles(): string[] {
  const skip = new Set(['node_modules', 'dist', 'test-output', 'coverage', '.git']);
  const text = /\.(ts|tsx|mjs|cjs|js|md|sh|sql|ya?ml|json|alloy|river|conf|html)$|(^|\/)(Dockerfile|run)$/;
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!skip.has(entry.name)) walk(rel);
      } else if (text.test(rel) && entry.name !== 'package-lock.json') out.push(rel);
    }
  };
  walk('');
  return out;
}

/*
 * The repository stands on its own: comments and documents cite docs/*.md, never a document that
 * is not in it (a product contract's sections, a style guide's habits). Spelt in pieces so this
 * file does not match itself.
 */
const OUTSIDE_CITATIONS = [
  /\bcontract(?:'s)?\s+(?:sections?\s*|§\s*)?\d/i,
  new RegExp(`(?<!RFC \\d+ )(?<!RFC \\d+, )${'§'}\\s*\\d`),
  new RegExp(`${'STYLE'}\\s+habit`, 'i'),
  new RegExp(`${'CONTRACT'}\\.md|${'STYLE'}\\.md|${'FIELD'}-NOTES`, 'i'),
  new RegExp(`\\.\\./${'shared'}/`),
];

test('no comment or document cites a document outside the repository', () => {
  const found: string[] = [];
  for (const file of repositoryFiles()) {
    read(file)
      .split('\n')
      .forEach((line, i) => {
        if (OUTSIDE_CITATIONS.some((re) => re.test(line))) found.push(`${file}:${i + 1}: ${line.trim()}`);
      });
  }
  assert.deepEqual(found, [], 'cite the docs/*.md that says it instead');
});
