import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BuildError, buildTarget, isStale, outputsOf, TARGETS } from '../build.ts';

/**
 * scripts/build.ts, which `npm start` and the Dockerfiles rely on to run compiled JavaScript.
 * A scratch workspace under test-output/ (git-ignored) shows what the bundle keeps and
 * rewrites; the real targets are checked for what the production images install.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const scratchDir = `test-output/build-${randomBytes(4).toString('hex')}`;
const scratch = path.join(ROOT, scratchDir);
const target = { name: 'scratch', dir: scratchDir, entries: ['src/main.ts'] };

after(() => rmSync(scratch, { recursive: true, force: true }));

function writeScratch(files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(scratch, name)), { recursive: true });
    writeFileSync(path.join(scratch, name), text);
  }
}

/** Bare package names a built file imports (static imports only: the bundles have no others). */
function importedPackages(file: string): Set<string> {
  const code = readFileSync(file, 'utf8');
  const names = new Set<string>();
  for (const m of code.matchAll(
    /^\s*(?:import|export)\b[^'"]*?\bfrom\s*["']([^"']+)["']|^\s*import\s*["']([^"']+)["']/gm,
  )) {
    const spec = (m[1] ?? m[2]) as string;
    if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:')) continue;
    const parts = spec.split('/');
    names.add(spec.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] as string));
  }
  return names;
}

describe('scripts/build.ts', () => {
  it('bundles our workspaces, keeps packages external, and keeps import.meta.url paths of the source', async () => {
    writeScratch({
      'package.json': '{ "type": "module" }\n',
      'src/main.ts': [
        "import { readFileSync } from 'node:fs';",
        "import { fileURLToPath } from 'node:url';",
        "import { PRIORITIES } from '@notes/contracts';",
        "import { ipv4 } from './lib/ip.ts';",
        "const beside = readFileSync(fileURLToPath(new URL('./lib/data.txt', import.meta.url)), 'utf8').trim();",
        'console.log(JSON.stringify({ beside, ip: ipv4(), priorities: Object.keys(PRIORITIES).length }));',
        '',
      ].join('\n'),
      'src/lib/ip.ts': "import ipaddr from 'ipaddr.js';\nexport const ipv4 = () => ipaddr.parse('10.0.0.1').kind();\n",
      'src/lib/data.txt': 'next to the source\n',
    });
    await buildTarget(target);
    const [out] = outputsOf(target) as [string];
    assert.equal(out, path.join(scratch, 'dist/main.js'));
    assert.equal(isStale(target), false, 'fresh right after a build');

    const code = readFileSync(out, 'utf8');
    assert.ok(!code.includes('@notes/'), 'the workspace package is bundled in');
    assert.ok(importedPackages(out).has('ipaddr.js'), 'a node_modules package stays an import');
    const run = spawnSync(process.execPath, [out], { cwd: scratch, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const printed = JSON.parse(run.stdout);
    assert.equal(printed.beside, 'next to the source', 'import.meta.url still names the source file');
    assert.equal(printed.ip, 'ipv4');
    assert.ok(printed.priorities > 0);
  });

  it('is stale when an input changed or went missing since the build', async () => {
    writeScratch({
      'src/main.ts': "import { x } from './dep.ts';\nconsole.log(x);\n",
      'src/dep.ts': 'export const x = 1;\n',
    });
    await buildTarget(target);
    assert.equal(isStale(target), false);
    writeFileSync(path.join(scratch, 'src/dep.ts'), 'export const x = 2;\n');
    assert.equal(isStale(target), true, 'an imported file changed');
    await buildTarget(target);
    assert.equal(isStale(target), false);
    // Touched but unchanged (a checkout, a copy) is not stale; deleted is.
    const later = new Date(Date.now() + 60_000);
    utimesSync(path.join(scratch, 'src/dep.ts'), later, later);
    assert.equal(isStale(target), false, 'only contents count');
    rmSync(path.join(scratch, 'src/dep.ts'));
    assert.equal(isStale(target), true, 'an input went missing');
    writeScratch({ 'src/dep.ts': 'export const x = 2;\n' });
    assert.equal(isStale(target), false);
    rmSync(path.join(scratch, 'dist/main.js'));
    assert.equal(isStale(target), true, 'the output is missing');
  });

  it('fails with a BuildError naming the file and line', async () => {
    writeScratch({ 'src/main.ts': 'export const broken = ;\n' });
    await assert.rejects(buildTarget(target), (err: unknown) => {
      assert.ok(err instanceof BuildError);
      assert.match(err.message, /building scratch failed/);
      assert.match(err.message, /src\/main\.ts:1/);
      return true;
    });
  });

  it('exits 2 on an unknown target', () => {
    const cli = (args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'scripts/build.ts', ...args], { cwd: ROOT, encoding: 'utf8' });
    const unknown = cli(['nonsense']);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown build target/);
  });

  it('every package the production bundles import is a production dependency the images install', async () => {
    const deps = (dir: string) =>
      Object.keys(JSON.parse(readFileSync(path.join(ROOT, dir, 'package.json'), 'utf8')).dependencies ?? {});
    const builtins = new Set(builtinModules);
    for (const t of TARGETS.filter((t) => t.name !== 'supervisor')) {
      if (isStale(t)) await buildTarget(t);
      // The Dockerfiles install the workspace's and contracts' dependencies (npm ci --omit=dev).
      const allowed = new Set([...deps(t.dir), ...deps('contracts')]);
      for (const file of outputsOf(t)) {
        for (const name of importedPackages(file)) {
          assert.ok(builtins.has(name) || allowed.has(name), `${path.relative(ROOT, file)} imports ${name}`);
        }
      }
    }
  });

  it('no bundled source imports a package only for its side effects (the build would drop it)', () => {
    const files = ['api/src', 'consumers/src', 'contracts/src']
      .flatMap((dir) => readdirSync(path.join(ROOT, dir), { recursive: true }).map((f) => `${dir}/${f}`))
      .concat('scripts/start.ts')
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    assert.ok(files.length > 20, `found ${files.length} source files`);
    for (const f of files) {
      const bare = /^\s*import\s*['"]([^'".][^'"]*)['"]/m.exec(readFileSync(path.join(ROOT, f), 'utf8'));
      assert.equal(bare, null, `${f} imports ${bare?.[1]} for its side effects`);
    }
  });
});
