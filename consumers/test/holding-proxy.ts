import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HeldRequest {
  path: string;
  body: string;
  /** The jobs the callback is for: one for `/internal/jobs/:id/op`, each item's for a batch. */
  jobIds: string[];
  /** Sends it on to the API now (whether or not the caller is still there). */
  forward(): Promise<number>;
}

/**
 * An HTTP proxy in front of the API that can hold matching requests instead of forwarding them:
 * a consumer calling through it is "mid-job" for as long as the test wants, at a known step.
 */
export async function startHoldingProxy(target: string, hold: (path: string) => boolean) {
  const held: HeldRequest[] = [];
  /** Every request that came through, held or not, in arrival order. */
  const seen: { path: string; jobIds: string[] }[] = [];
  let holding = true;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const path = req.url ?? '/';
      const forward = async () => {
        const upstream = await fetch(`${target}${path}`, {
          method: req.method,
          headers: { 'content-type': 'application/json', authorization: String(req.headers.authorization ?? '') },
          body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body,
        });
        const text = await upstream.text();
        if (!res.destroyed && !res.writableEnded) {
          res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/plain' });
          res.end(text);
        }
        return upstream.status;
      };
      const jobIds = jobIdsOf(path, body);
      seen.push({ path, jobIds });
      if (holding && hold(path)) held.push({ path, body, jobIds, forward });
      else forward().catch(() => res.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    held,
    seen,
    /** The jobs of every held callback (a batched callback holds several). */
    heldJobs: () => held.flatMap((h) => h.jobIds),
    /** Forwards what is held and stops holding. */
    async release() {
      holding = false;
      await Promise.all(held.splice(0).map((h) => h.forward().catch(() => 0)));
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function jobIdsOf(path: string, body: string): string[] {
  const single = /^\/internal\/jobs\/([^/]+)\/[a-z]+$/.exec(path);
  if (single) return [decodeURIComponent(single[1] as string)];
  try {
    const { jobs } = JSON.parse(body) as { jobs?: { job_id: string }[] };
    return (jobs ?? []).map((j) => j.job_id);
  } catch {
    return [];
  }
}
