/**
 * At most `maxInFlight` deliveries per webhook endpoint at a time in this process
 * (WEBHOOK_MAX_IN_FLIGHT, docs/isolation.md). A delivery over the limit waits in a short line of
 * its endpoint's own, without a handler running for it; once that line holds `maxWaiting`, a
 * further delivery is turned away (`null`) and the caller parks it back in the broker
 * (notes.webhooks.deferred), so one slow endpoint never fills the lane's prefetch and starves the
 * others. A freed slot goes straight to the endpoint's next waiter, in arrival order.
 */
export type Release = () => void;

interface Endpoint {
  running: number;
  waiting: ((release: Release | null) => void)[];
}

export class EndpointGate {
  readonly #endpoints = new Map<string, Endpoint>();

  constructor(
    readonly maxInFlight: number,
    readonly maxWaiting: number,
  ) {}

  /**
   * A release function once the delivery may run, or `null` when it should be deferred: the
   * endpoint's line is full, or `signal` aborted (shutdown) while it waited.
   */
  enter(endpointId: string, signal?: AbortSignal): Promise<Release | null> {
    const endpoint = this.#endpoints.get(endpointId) ?? { running: 0, waiting: [] };
    this.#endpoints.set(endpointId, endpoint);
    if (endpoint.running < this.maxInFlight) {
      endpoint.running++;
      return Promise.resolve(this.#releaser(endpointId, endpoint));
    }
    if (endpoint.waiting.length >= this.maxWaiting || signal?.aborted) return Promise.resolve(null);
    return new Promise((resolve) => {
      const onAbort = () => {
        const at = endpoint.waiting.indexOf(admit);
        if (at !== -1) endpoint.waiting.splice(at, 1);
        resolve(null);
      };
      const admit = (release: Release | null) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(release);
      };
      endpoint.waiting.push(admit);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Deliveries running and waiting for an endpoint (metrics, tests). */
  load(endpointId: string): { running: number; waiting: number } {
    const e = this.#endpoints.get(endpointId);
    return { running: e?.running ?? 0, waiting: e?.waiting.length ?? 0 };
  }

  #releaser(endpointId: string, endpoint: Endpoint): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = endpoint.waiting.shift();
      if (next) {
        next(this.#releaser(endpointId, endpoint)); // the slot passes on; running stays the same
        return;
      }
      endpoint.running--;
      if (endpoint.running === 0) this.#endpoints.delete(endpointId);
    };
  }
}
