/**
 * A last line of defence for what a test file started outside itself (product processes, a
 * RabbitMQ node): killed when the file's process exits, even if its after() hooks never ran, and
 * on SIGINT/SIGTERM (which would otherwise skip 'exit' handlers). Handlers must be synchronous.
 */
const handlers = new Set<() => void>();
let installed = false;

export function onExit(handler: () => void): void {
  handlers.add(handler);
  if (installed) return;
  installed = true;
  process.on('exit', () => {
    for (const h of handlers) {
      try {
        h();
      } catch {}
    }
  });
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => process.exit(code));
  }
}
