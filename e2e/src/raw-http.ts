import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * HTTP over a bare TCP socket, for what a well-behaved client library refuses to send: raw bytes
 * in the request line and headers, smuggling-shaped framing, oversized headers, and clients that
 * dribble their request and then stall.
 */
export interface RawAnswer {
  /** The status of the first response, or null when the server closed without answering. */
  status: number | null;
  /** The response head (status line and headers), as latin1. */
  head: string;
  /** True when the socket closed (by the server) before the timeout. */
  closed: boolean;
  timedOut: boolean;
  ms: number;
}

function parseStatus(text: string): number | null {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  return m ? Number(m[1]) : null;
}

/** Sends `bytes` at once and reads until the server closes (or `timeoutMs`). */
export function rawRequest(port: number, bytes: Buffer, timeoutMs = 5000): Promise<RawAnswer> {
  const started = performance.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1');
    let done = false;
    const finish = (closed: boolean, timedOut: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const head = text.split('\r\n\r\n')[0] ?? '';
      resolve({ status: parseStatus(text), head, closed, timedOut, ms: performance.now() - started });
    };
    const timer = setTimeout(() => finish(false, true), timeoutMs);
    let settle: NodeJS.Timeout | undefined;
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      // A whole response head arrived: the rest (a body, or a close) follows within moments,
      // or the connection is being kept alive, which is fine too.
      if (!settle && Buffer.concat(chunks).includes('\r\n\r\n')) {
        settle = setTimeout(() => finish(false, false), 300);
      }
    });
    socket.on('close', () => clearTimeout(settle));
    socket.on('close', () => finish(true, false));
    socket.on('error', () => finish(true, false));
    socket.on('connect', () => socket.write(bytes));
  });
}

export interface SlowClient {
  /** Resolves when the server closes the connection, with what it answered. */
  result: Promise<RawAnswer>;
  destroy(): void;
}

/**
 * A client that sends `bytes` one byte every `gapMs`, then stalls (sends nothing more, never
 * closes). The server must time the request out by itself.
 */
export function slowClient(port: number, bytes: Buffer, gapMs: number): SlowClient {
  const started = performance.now();
  const socket = net.connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  const result = new Promise<RawAnswer>((resolve) => {
    const finish = () => {
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({
        status: parseStatus(text),
        head: text.split('\r\n\r\n')[0] ?? '',
        closed: true,
        timedOut: false,
        ms: performance.now() - started,
      });
    };
    socket.on('close', finish);
    socket.on('error', () => {});
  });
  socket.on('connect', async () => {
    for (const byte of bytes) {
      if (socket.destroyed) return;
      socket.write(Buffer.from([byte]));
      await sleep(gapMs);
    }
  });
  return { result, destroy: () => socket.destroy() };
}
