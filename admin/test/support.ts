import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashPassword } from '../../api/src/modules/auth/auth-service.ts';
import { type SeededUser, seedUser } from '../../api/test/admin-fixtures.ts';
import { startTestApp, type TestApp } from '../../api/test/helpers.ts';

/**
 * The real product for the console's tests: the API (with the built console at /admin) on a
 * real port, in a namespace of its own on the shared MariaDB, Redis and RabbitMQ.
 */
const ADMIN_DIR = fileURLToPath(new URL('..', import.meta.url));
const DIST_INDEX = path.join(ADMIN_DIR, 'dist', 'index.html');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Builds the console when admin/dist is missing or older than its sources. */
export function ensureBuilt(): void {
  const sources = Math.max(
    newestMtime(path.join(ADMIN_DIR, 'src')),
    statSync(path.join(ADMIN_DIR, 'index.html')).mtimeMs,
    statSync(path.join(ADMIN_DIR, 'vite.config.ts')).mtimeMs,
  );
  if (existsSync(DIST_INDEX) && statSync(DIST_INDEX).mtimeMs >= sources) return;
  const res = spawnSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: ADMIN_DIR, stdio: 'inherit' });
  if (res.status !== 0) throw new Error('building the admin console failed');
}

export const PASSWORD = 'correct horse battery';

export interface ConsoleServer {
  t: TestApp;
  baseUrl: string;
  admin: SeededUser;
  /** A plain user with the same password, to be refused by the console. */
  user: SeededUser;
  close(): Promise<void>;
}

/** `env`: configuration variables for the API, as an operator would set them. */
export async function startConsoleServer(label: string, env: Record<string, string> = {}): Promise<ConsoleServer> {
  const t = await startTestApp(label, env);
  try {
    const passwordHash = await hashPassword(PASSWORD);
    const admin = await seedUser(t.app, t.deps.database, {
      role: 'admin',
      email: 'ops@example.test',
      name: 'Ops',
      passwordHash,
    });
    const user = await seedUser(t.app, t.deps.database, { email: 'writer@example.test', name: 'Writer', passwordHash });
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
    return { t, baseUrl: address, admin, user, close: () => t.close() };
  } catch (err) {
    await t.close();
    throw err;
  }
}
