import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One callback in a request: what it is and which job it is for. */
export interface CallbackOf {
  op: string;
  jobId: string;
}

export interface HeldRequest {
  path: string;
  body: string;
  /** The jobs the callback is for: one for `/internal/jobs/:id/op`, each item's for a batch. */
  jobIds: string[];
  /** Each callback in it (a batch, mixed or of one kind, carries several). */
  callbacks: CallbackOf[];
  /** Sends it on to the API now (whether or not the caller is still there). */
  forward(): Promise<number>;
}

/**
 * An HTTP proxy in front of the API that can hold matching requests instead of forwarding them:
 * a consumer calling through it is "mid-job" for as long as the test wants, at a known step.
 */
export async function startHoldingProxy(target: string, hold: (path: string, ops: ReadonlySet<string>) => boolean) {
  const held: HeldRequest[] = [];
  /** Every request that came through, held or not, in arrival order. */
  const seen: { path: string; jobIds: string[]; callbacks: CallbackOf[] }[] = [];
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
      const callbacks = callbacksOf(path, body);
      const jobIds = callbacks.map((c) => c.jobId);
      seen.push({ path, jobIds, callbacks });
      if (holding && hold(path, new Set(callbacks.map((c) => c.op))))
        held.push({ path, body, jobIds, callbacks, forward });
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

/** The callbacks a request carries: `/internal/jobs/:id/op`, `/internal/jobs/op` or the mixed `/internal/jobs/callbacks`. */
function callbacksOf(path: string, body: string): CallbackOf[] {
  const single = /^\/internal\/jobs\/([^/]+)\/([a-z]+)$/.exec(path);
  if (single) return [{ op: single[2] as string, jobId: decodeURIComponent(single[1] as string) }];
  const batch = /^\/internal\/jobs\/([a-z]+)$/.exec(path);
  if (!batch) return [];
  try {
    const parsed = JSON.parse(body) as Record<string, { job_id: string }[] | undefined>;
    const lists: [string, { job_id: string }[] | undefined][] =
      batch[1] === 'callbacks'
        ? [
            ['complete', parsed.complete],
            ['fail', parsed.fail],
            ['start', parsed.start],
          ]
        : [[batch[1] as string, parsed.jobs]];
    return lists.flatMap(([op, items]) => (items ?? []).map((j) => ({ op, jobId: j.job_id })));
  } catch {
    return [];
  }
}
