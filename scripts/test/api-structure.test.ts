import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * The API's shape (docs/architecture.md): services are built once, in api/src/wiring.ts, with
 * what they use; route plugins receive them; no shared instance hides in a lookup table.
 */
const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../api/src');

function sources(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}
const rel = (file: string) => path.relative(SRC, file);
const isRoutePlugin = (file: string) => /^modules\/[^/]+\/(routes\.ts|routes\/[^/]+\.ts)$/.test(rel(file));

test('no X.for(client) lookup tables', () => {
  const found = sources().filter((f) => /\bstatic\s+for\s*\(/.test(readFileSync(f, 'utf8')));
  assert.deepEqual(found.map(rel), [], 'build the shared instance in wiring.ts and pass it');
});

test('route plugins construct no service, helper or worker: they get them from wiring.ts', () => {
  // Every class the modules, workers and platform helpers export, apart from errors.
  const classes = new Set<string>();
  for (const file of sources().filter((f) => /^(modules|workers|platform\/redis)\//.test(rel(f)))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/export class (\w+)/g)) {
      if (!m[1]?.endsWith('Error')) classes.add(m[1] ?? '');
    }
  }
  assert.ok(classes.has('NotesService') && classes.has('JobCallbacks'), `found: ${[...classes].join(', ')}`);
  const routes = sources().filter(isRoutePlugin);
  assert.ok(routes.length >= 8, `route plugins: ${routes.map(rel).join(', ')}`);
  const built: string[] = [];
  for (const file of routes) {
    for (const m of readFileSync(file, 'utf8').matchAll(/\bnew\s+(\w+)\s*\(/g)) {
      if (classes.has(m[1] ?? '')) built.push(`${rel(file)}: new ${m[1]}`);
    }
  }
  assert.deepEqual(built, []);
});

test('every service is constructed in wiring.ts only', () => {
  const services = new Set<string>();
  for (const file of sources().filter((f) => /^modules\//.test(rel(f)))) {
    for (const m of readFileSync(file, 'utf8').matchAll(
      /export class (\w+(?:Service|Callbacks|Operations|Actions))\b/g,
    )) {
      services.add(m[1] ?? '');
    }
  }
  assert.ok(services.size >= 6, `services: ${[...services].join(', ')}`);
  const elsewhere: string[] = [];
  for (const file of sources().filter((f) => rel(f) !== 'wiring.ts')) {
    for (const m of readFileSync(file, 'utf8').matchAll(/\bnew\s+(\w+)\s*\(/g)) {
      if (services.has(m[1] ?? '')) elsewhere.push(`${rel(file)}: new ${m[1]}`);
    }
  }
  assert.deepEqual(elsewhere, []);
});

/**
 * One way to write the database (docs/architecture.md, "The write path"): every INSERT, UPDATE
 * and DELETE goes through the writer (api/src/platform/db/sql-writer.ts), which counts the status
 * changes the stats read. Drizzle serves reads and migrations; its write builders on a schema
 * table (`db.insert(notes)`, `tx.update(jobs)`, `.delete(users)`, `onDuplicateKeyUpdate`) and a
 * raw write through drizzle's `execute` would be a second write path that nothing counts. The
 * API's tests and fixtures write the same way.
 */
test('no drizzle write builder: the writer is the only write path', () => {
  const schema = readFileSync(path.join(SRC, 'platform/db/schema.ts'), 'utf8');
  const tables = [...schema.matchAll(/export const (\w+) = mysqlTable\(/g)].map((m) => m[1]);
  assert.ok(tables.includes('notes') && tables.includes('users'), `tables: ${tables.join(', ')}`);
  const builder = new RegExp(`\\.(insert|update|delete)\\(\\s*(?:\\w+\\.)?(${tables.join('|')})\\s*\\)`, 'g');
  const rawWrite = /\.execute\(\s*sql`\s*(INSERT|UPDATE|DELETE|REPLACE)\b/gi;
  const files = [...allTs(SRC), ...allTs(path.resolve(SRC, '../test'))];
  assert.ok(files.length > 100, `files: ${files.length}`);
  const found: string[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(builder)) found.push(`${path.relative(SRC, file)}: .${m[1]}(${m[2]})`);
    for (const m of text.matchAll(rawWrite)) found.push(`${path.relative(SRC, file)}: execute(sql\`${m[1]}\`)`);
    if (text.includes('.onDuplicateKeyUpdate(')) found.push(`${path.relative(SRC, file)}: onDuplicateKeyUpdate`);
  }
  assert.deepEqual(found, [], 'write through the writer (rowInsert, rowUpdate, rowDelete, rowUpsert)');
});

/** Every .ts file under `dir`, tests included. */
function allTs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : allTs(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}
