/**
 * `npm run build`: compiles each long-running process to one JavaScript file with esbuild, so
 * production runs plain `node` instead of the tsx loader. tsx cost the API ~55 MB idle and far
 * more under load (it also turns on source-mapped stack traces for every Error), the consumer
 * ~40 MB, the supervisor ~45 MB, and seconds of start-up. Tests and development keep running the
 * TypeScript source with tsx.
 *
 *   api/dist/main.js, api/dist/telemetry.js             node --import ./dist/telemetry.js dist/main.js
 *   consumers/dist/main.js, consumers/dist/telemetry.js  (the same, in consumers/)
 *   scripts/dist/start.js                                the `npm start` supervisor
 *
 * Our workspaces (@notes/*) are bundled in; every other package stays an external import loaded
 * from node_modules as before, so the tracing preload's import-in-the-middle hook still sees
 * fastify, mysql2, ioredis, amqplib… being imported, and native addons (argon2) load normally.
 *
 *   node --import tsx scripts/build.ts [--if-stale] [api|consumers|supervisor ...]
 *
 * `--if-stale` rebuilds only a target whose output is missing or one of whose inputs (recorded
 * by the previous build) changed; `npm start` runs it before starting anything.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SELF = fileURLToPath(import.meta.url);

export interface BuildTarget {
  name: string;
  /** The workspace directory, relative to the repository root. */
  dir: string;
  /** Entry files, relative to `dir`; each becomes `dir/dist/<basename>.js`. */
  entries: string[];
}

export const TARGETS: readonly BuildTarget[] = [
  { name: 'api', dir: 'api', entries: ['src/main.ts', 'src/telemetry.ts'] },
  { name: 'consumers', dir: 'consumers', entries: ['src/main.ts', 'src/telemetry.ts'] },
  { name: 'supervisor', dir: 'scripts', entries: ['start.ts'] },
];

/** What the last build of a target read (content fingerprints), for `--if-stale`. */
const MANIFEST = '.build-inputs.json';

export const outDir = (t: BuildTarget) => path.join(ROOT, t.dir, 'dist');
export const outputsOf = (t: BuildTarget) =>
  t.entries.map((e) => path.join(outDir(t), `${path.basename(e, path.extname(e))}.js`));

export class BuildError extends Error {
  override name = 'BuildError';
}

/**
 * Bare imports of anything but our own workspaces stay imports of node_modules. They are marked
 * free of side effects so an import whose bindings go unused is dropped: the supervisor takes
 * one function from @notes/contracts and must not load amqplib, prom-client or OpenTelemetry
 * with it. (scripts/test/build.test.ts checks that no source imports a package only for its
 * side effects.)
 */
const externalPackages: esbuild.Plugin = {
  name: 'external-packages',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith('@notes/') ? undefined : { path: args.path, external: true, sideEffects: false },
    );
  },
};

/**
 * In the bundle every module shares the output file's `import.meta.url`, which would move paths
 * computed from it (api/src/platform/db/client.ts finds `../../../drizzle`, admin-static.ts the admin build,
 * contracts' telemetry resolves the OpenTelemetry loader hook). Each source file's own
 * `import.meta.url` is rewritten to its source location, relative to where the bundle lands, so
 * those paths stay what they are when running from source, on this machine or in an image.
 */
function sourceUrls(outdir: string): esbuild.Plugin {
  return {
    name: 'source-import-meta-url',
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, (args) => {
        if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
        const source = readFileSync(args.path, 'utf8');
        if (!source.includes('import.meta.url')) return undefined;
        const rel = path.relative(outdir, args.path).split(path.sep).join('/');
        const url = `new URL(${JSON.stringify(rel)}, import.meta.url).href`;
        return { contents: source.replaceAll('import.meta.url', url), loader: 'ts' };
      });
    },
  };
}

/** Content fingerprints of a build's inputs (and of this script, which shapes every output). */
function fingerprint(inputs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const file of [path.relative(ROOT, SELF), ...inputs]) {
    const abs = path.join(ROOT, file);
    out[file] = existsSync(abs) ? createHash('sha256').update(readFileSync(abs)).digest('hex').slice(0, 16) : 'missing';
  }
  return out;
}

/**
 * True when an output is missing or an input the last build read has changed since. Contents are
 * compared, not modification times: a checkout, a copy or a clock in the future can't fool it.
 */
export function isStale(t: BuildTarget): boolean {
  const manifest = path.join(outDir(t), MANIFEST);
  if (![...outputsOf(t), manifest].every((f) => existsSync(f))) return true;
  try {
    const recorded = JSON.parse(readFileSync(manifest, 'utf8')).inputs as Record<string, string>;
    const now = fingerprint(Object.keys(recorded).filter((f) => f !== path.relative(ROOT, SELF)));
    return Object.entries(now).some(([file, hash]) => recorded[file] !== hash);
  } catch {
    return true;
  }
}

export async function buildTarget(t: BuildTarget): Promise<void> {
  const outdir = outDir(t);
  const result = await esbuild
    .build({
      absWorkingDir: ROOT,
      entryPoints: t.entries.map((e) => path.join(ROOT, t.dir, e)),
      outdir,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      // Error classes and pino's `err.type` keep their names when the bundle renames clashes.
      keepNames: true,
      // Plain, readable output; stack traces name the bundle's lines, the map names the source
      // (node --enable-source-maps, when debugging).
      sourcemap: 'linked',
      metafile: true,
      write: false,
      logLevel: 'silent',
      plugins: [externalPackages, sourceUrls(outdir)],
    })
    .catch((err: unknown) => {
      const messages = (err as { errors?: esbuild.Message[] }).errors ?? [];
      const text = messages.length
        ? esbuild.formatMessagesSync(messages, { kind: 'error', color: false }).join('')
        : String(err);
      throw new BuildError(`building ${t.name} failed:\n${text}`);
    });
  // Each file is written whole, then renamed into place: a process starting while a build runs
  // (npm start beside a test) reads the old bundle or the new one, never half of one.
  mkdirSync(outdir, { recursive: true });
  const inputs = fingerprint(Object.keys(result.metafile.inputs).filter((i) => !i.includes('node_modules/')));
  const files = [
    ...result.outputFiles.map((f) => ({ path: f.path, contents: f.contents as Uint8Array | string })),
    { path: path.join(outdir, MANIFEST), contents: `${JSON.stringify({ inputs }, null, 1)}\n` },
  ];
  for (const f of files) {
    const temp = `${f.path}.${process.pid}.tmp`;
    writeFileSync(temp, f.contents);
    renameSync(temp, f.path);
  }
}

async function main(argv: string[]): Promise<void> {
  const ifStale = argv.includes('--if-stale');
  const names = argv.filter((a) => !a.startsWith('--'));
  const unknown = names.filter((n) => !TARGETS.some((t) => t.name === n));
  if (unknown.length) {
    process.stderr.write(`unknown build target(s): ${unknown.join(', ')} (known: ${TARGETS.map((t) => t.name)})\n`);
    process.exit(2);
  }
  const chosen = TARGETS.filter((t) => names.length === 0 || names.includes(t.name));
  for (const t of chosen) {
    if (ifStale && !isStale(t)) continue;
    const started = Date.now();
    await buildTarget(t);
    process.stdout.write(`[build] ${t.name}: ${path.relative(ROOT, outDir(t))}/ in ${Date.now() - started} ms\n`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === SELF) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(
      err instanceof BuildError
        ? `${err.message}\nThe production build failed (npm start runs nothing until it builds). Fix the ` +
            'errors above (`npx tsc -p <workspace>` shows type errors too) and try again.\n'
        : `build failed: ${err?.stack ?? err}\n`,
    );
    process.exit(1);
  });
}
