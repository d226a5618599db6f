import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { metricsAccess, renderMetrics } from '@notes/contracts';
import type { Registry } from 'prom-client';

export interface HealthChecks {
  /** The broker connection is up and the consumer is consuming. */
  amqp(): boolean;
  /** The API answers (bounded by its own timeout). */
  api(): Promise<boolean>;
}

/**
 * The consumers' HTTP face on CONSUMER_PORT: `/health` (process up), `/health/ready` (broker
 * connected and consuming, API reachable; 503 otherwise) and `/metrics`. Plain node:http: three
 * GET routes do not need a framework.
 */
export class HealthServer {
  readonly #server: http.Server;
  #listening = false;

  constructor(
    private readonly checks: HealthChecks,
    private readonly registry: Registry,
    /** METRICS_TOKEN: who may read /metrics is metricsAccess's rule (docs/security.md). */
    private readonly metricsToken: string | null = null,
  ) {
    this.#server = http.createServer((req, res) => {
      this.#handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    // Health probes are short; never let an idle keep-alive socket hold up shutdown.
    this.#server.keepAliveTimeout = 1000;
  }

  /** Listens (port 0 = a free one); resolves with the port. */
  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#listening = true;
    return (this.#server.address() as AddressInfo).port;
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (!this.#listening) return;
    this.#listening = false;
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const known = path === '/health' || path === '/health/ready' || path === '/metrics';
    if (!known) return send(404, { status: 404, title: 'Not Found' });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return send(405, { status: 405, title: 'Method Not Allowed' });
    }
    if (path === '/health') return send(200, { status: 'ok' });
    if (path === '/health/ready') {
      const started = performance.now();
      const api = await this.checks.api();
      const apiMs = Math.round((performance.now() - started) * 100) / 100;
      const amqp = this.checks.amqp();
      const checks = {
        rabbitmq: { status: amqp ? 'up' : 'down', latency_ms: 0 },
        api: { status: api ? 'up' : 'down', latency_ms: apiMs },
      };
      return send(amqp && api ? 200 : 503, { status: amqp && api ? 'ok' : 'down', checks });
    }
    const access = metricsAccess(this.metricsToken, req.headers.authorization, req.socket.remoteAddress);
    if (access === 'unauthorized') {
      res.setHeader('www-authenticate', 'Bearer');
      return send(401, { status: 401, title: 'Unauthorized' });
    }
    if (access === 'forbidden') return send(403, { status: 403, title: 'Forbidden' });
    const { contentType, body } = await renderMetrics(this.registry, req.headers.accept);
    res.writeHead(200, { 'content-type': contentType });
    res.end(body);
  }
}
