import { createTestNamespace, type TestNamespace } from '@notes/contracts/testing';
import { type App, buildApp } from '../src/app.ts';
import { migrateDatabase } from '../src/platform/db/client.ts';
import { createDeps } from '../src/wiring.ts';

export interface TestApp {
  app: App;
  ns: TestNamespace;
  deps: Awaited<ReturnType<typeof createDeps>>;
  close(): Promise<void>;
}

/**
 * The real app on the real services, in a namespace of its own (database, vhost, key prefix).
 * `overrides` are environment variables, as a user would set them (or made from the namespace,
 * e.g. to reach one of its services through a fault proxy).
 */
export async function startTestApp(
  label: string,
  overrides: Record<string, string> | ((ns: TestNamespace) => Record<string, string>) = {},
): Promise<TestApp> {
  const ns = await createTestNamespace(label);
  const config = ns.config(typeof overrides === 'function' ? overrides(ns) : overrides);
  await migrateDatabase(config);
  const deps = await createDeps(config);
  await deps.amqp.waitConnected(5000);
  const app = await buildApp(deps);
  await app.ready();
  return {
    app,
    ns,
    deps,
    async close() {
      await app.close();
      await deps.close();
      await ns.cleanup();
    },
  };
}
