import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A third party's webhook endpoint on loopback. It records every delivery by `webhook-id` (the
 * job id, stable across retries of one delivery) with the time it arrived and what it answered,
 * so a test can tell a redelivery of work that was in flight from an effect applied twice.
 */
export interface Delivery {
  id: string;
  /** When the request arrived (ms since epoch). */
  at: number;
  /** What the receiver answered; 0 while it is sleeping, -1 when the sender went away first. */
  status: number;
}

export interface WebhookReceiver {
  url: string;
  /** Every delivery that arrived, in arrival order. */
  deliveries: Delivery[];
  /** Deliveries being answered right now (the receiver is sleeping on them). */
  readonly inFlight: number;
  /** Successful (2xx) deliveries per webhook-id. */
  successes(): Map<string, Delivery[]>;
  /** How long to sleep before answering (changeable while running). */
  delayMs: number;
  /** When set, every delivery is answered with this status (a failing endpoint). */
  failStatus: number | null;
  close(): Promise<void>;
}

export async function startWebhookReceiver(opts: { delayMs?: number } = {}): Promise<WebhookReceiver> {
  const deliveries: Delivery[] = [];
  let inFlight = 0;
  const receiver: WebhookReceiver = {
    url: '',
    deliveries,
    get inFlight() {
      return inFlight;
    },
    delayMs: opts.delayMs ?? 0,
    failStatus: null,
    successes() {
      const out = new Map<string, Delivery[]>();
      for (const d of deliveries) {
        if (d.status < 200 || d.status > 299) continue;
        const list = out.get(d.id) ?? [];
        list.push(d);
        out.set(d.id, list);
      }
      return out;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const delivery: Delivery = { id: String(req.headers['webhook-id'] ?? ''), at: Date.now(), status: 0 };
      deliveries.push(delivery);
      let gone = false;
      res.on('close', () => {
        if (!res.writableFinished) gone = true;
      });
      inFlight++;
      try {
        if (receiver.delayMs > 0) await sleep(receiver.delayMs);
        // A delivery whose sender went away meanwhile was never answered: it is no success.
        if (gone || res.destroyed) {
          delivery.status = -1;
          return;
        }
        delivery.status = receiver.failStatus ?? (delivery.id && req.headers['webhook-signature'] ? 204 : 400);
        res.writeHead(delivery.status).end();
      } finally {
        inFlight--;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return receiver;
}
