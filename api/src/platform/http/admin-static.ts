import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { PROBLEM_TYPE_BASE, sendProblem } from '../errors/handler.ts';

/** Where `npm run build -w @notes/admin` writes the console. */
export const ADMIN_DIST = fileURLToPath(new URL('../../../../admin/dist/', import.meta.url));

export interface AdminStaticOptions {
  /** The built console; tests point it elsewhere. */
  distDir?: string;
}

/**
 * Serves the built react-admin console at /admin (docs/operations.md). The console routes in the
 * browser, so any path under /admin that isn't a file gets index.html (SPA fallback), except
 * under /admin/assets/ where a missing file is a real 404. Whether the build exists is checked
 * per request, so building while the API runs needs no restart; without a build, /admin is a
 * 503 that says how to make one. Vite's hashed assets are cached for good, index.html never.
 */
export default async function adminStatic(app: FastifyInstance, opts: AdminStaticOptions) {
  const dist = path.resolve(opts.distDir ?? ADMIN_DIST);
  const index = path.join(dist, 'index.html');
  await app.register(fastifyStatic, { serve: false, decorateReply: true });

  app.get('/admin', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/admin/', 301));

  app.get('/admin/*', { schema: { hide: true } }, async (request, reply) => {
    if (!existsSync(index)) {
      return sendProblem(reply.header('retry-after', '30'), request, {
        type: `${PROBLEM_TYPE_BASE}admin-not-built`,
        title: 'Service Unavailable',
        status: 503,
        detail: 'The admin console has not been built. Run `npm run build -w @notes/admin`, then reload.',
      });
    }
    const wanted = decodeSafe((request.params as { '*': string })['*']);
    const file = wanted === null ? null : path.resolve(dist, wanted);
    // Only files inside dist; `..` tricks resolve outside it and fall through to the SPA.
    if (file?.startsWith(dist + path.sep) && isFile(file)) {
      const rel = path.relative(dist, file);
      const hashed = rel.startsWith(`assets${path.sep}`);
      return reply.sendFile(rel, dist, hashed ? { maxAge: '365d', immutable: true } : { maxAge: 0 });
    }
    if (wanted?.startsWith('assets/')) return reply.callNotFound();
    reply.header('cache-control', 'no-cache');
    return reply.sendFile('index.html', dist, { cacheControl: false });
  });
}

function decodeSafe(p: string): string | null {
  try {
    return decodeURIComponent(p);
  } catch {
    return null;
  }
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}
