/**
 * Import rules, checked by `npm run check:deps` (part of `npm test`). The reasons are in
 * docs/architecture.md ("Dependency rules"); a rule here and a line there change together.
 *
 * Type-only imports count: they are erased at run time, but they are the map a reader follows,
 * and a type cycle (a route importing `App` from the module that imports the route) tangles that
 * map just the same. Tests (`test/`, `*.test.ts`) may reach across workspaces to start a real
 * API or seed data; the rules below bind the deployable sources.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle: break it with a types-only module or by moving the shared piece down.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'contracts-stand-alone',
      severity: 'error',
      comment: 'contracts/ is the bottom layer: every other workspace imports it, it imports none of them.',
      from: { path: '^contracts/src/' },
      to: { path: '^(api|consumers|admin|scripts|e2e)/' },
    },
    {
      name: 'consumers-not-to-api',
      severity: 'error',
      comment: 'The consumers are a deployable of their own: wire formats come from @notes/contracts.',
      from: { path: '^consumers/src/' },
      to: { path: '^(api|admin|scripts|e2e)/' },
    },
    {
      name: 'admin-not-to-api-or-consumers',
      severity: 'error',
      comment: 'The console talks to the API over HTTP; its types come from @notes/contracts.',
      from: { path: '^admin/src/' },
      to: { path: '^(api|consumers|scripts|e2e)/' },
    },
    {
      name: 'api-not-to-other-workspaces',
      severity: 'error',
      comment: 'The API imports only contracts (it serves the built console as files, not imports).',
      from: { path: '^api/src/' },
      to: { path: '^(consumers|admin|scripts|e2e)/' },
    },
    {
      name: 'sources-not-to-tests',
      severity: 'error',
      comment: 'Shipped code never imports a test or a test helper.',
      from: { path: '^(api|consumers|contracts|admin)/src/', pathNot: '\\.test\\.tsx?$' },
      to: { path: '(^[^/]+/test/|\\.test\\.tsx?$)' },
    },
    {
      name: 'modules-through-their-index',
      severity: 'error',
      comment:
        "A module (api/src/modules/<name>/) reaches another module only through that module's index.ts, the list of what it shares.",
      from: { path: '^api/src/modules/([^/]+)/' },
      to: { path: '^api/src/modules/', pathNot: ['^api/src/modules/$1/', '^api/src/modules/[^/]+/index\\.ts$'] },
    },
    {
      name: 'modules-not-to-workers-or-wiring',
      severity: 'error',
      comment: 'Modules hold the rules; the workers and the wiring use them, not the reverse.',
      from: { path: '^api/src/modules/' },
      to: { path: '^api/src/(workers/|main\\.ts|wiring\\.ts|app\\.ts|routes\\.ts)' },
    },
    {
      name: 'workers-through-module-index',
      severity: 'error',
      comment: "Workers use platform and a module's index.ts, never a module's insides or the wiring.",
      from: { path: '^api/src/workers/' },
      to: {
        path: '^api/src/(modules/|main\\.ts|wiring\\.ts|app\\.ts|routes\\.ts)',
        pathNot: '^api/src/modules/[^/]+/index\\.ts$',
      },
    },
    {
      name: 'platform-imports-no-module',
      severity: 'error',
      comment: 'platform/ (db, redis, http, errors, logger, metrics) serves the modules and knows none of them.',
      from: { path: '^api/src/platform/' },
      to: { path: '^api/src/(modules|workers)/|^api/src/(main|wiring|app|routes)\\.ts$' },
    },
    {
      name: 'repositories-import-no-service',
      severity: 'error',
      comment:
        'Repositories hold SQL; they import platform, shapes and other repositories, never a service, route or plugin.',
      from: { path: '^api/src/(modules|workers)/.+-repository\\.ts$' },
      to: {
        path: '^api/src/',
        pathNot: [
          '^api/src/platform/',
          '-repository\\.ts$',
          '^api/src/modules/[^/]+/(schemas|list-orders|index)\\.ts$',
        ],
      },
    },
    {
      name: 'services-not-to-http',
      severity: 'error',
      comment: "Rules do not know about HTTP: only a module's routes (and the wiring) import routes and plugins.",
      from: {
        path: '^api/src/(modules|workers)/',
        pathNot: '^api/src/modules/[^/]+/(routes(\\.ts|/)|auth-plugin\\.ts$)',
      },
      to: { path: '^api/src/(modules/[^/]+/(routes(\\.ts|/)|auth-plugin\\.ts$)|platform/http/)' },
    },
    {
      name: 'schemas-are-leaves',
      severity: 'error',
      comment: 'Schemas describe shapes; they import contracts and platform/db, nothing with behaviour.',
      from: { path: '^api/src/modules/[^/]+/schemas\\.ts$' },
      to: { path: '^api/src/(modules|workers)/|^api/src/(main|wiring|app|routes)\\.ts$' },
    },
    {
      name: 'only-the-wiring-imports-the-wiring',
      severity: 'error',
      comment:
        'main.ts, wiring.ts, app.ts and routes.ts are the wiring: they import everything, and only they (and tests) import them.',
      from: { path: '^api/src/', pathNot: '^api/src/(main|wiring|app|routes)\\.ts$' },
      to: { path: '^api/src/(main|wiring|app|routes)\\.ts$' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist|test-output)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.tsx', '.js', '.mjs', '.cjs', '.d.ts'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
