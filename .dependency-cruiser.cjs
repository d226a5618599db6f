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
      name: 'repositories-down-only',
      severity: 'error',
      comment: 'Repositories hold SQL; they know the database and the schemas, never who calls them.',
      from: { path: '^api/src/repositories/' },
      to: { path: '^api/src/(services|routes|plugins|app|deps|main)' },
    },
    {
      name: 'services-not-to-routes',
      severity: 'error',
      comment: 'Rules live in services; HTTP lives in routes and plugins, which call services, not the reverse.',
      from: { path: '^api/src/services/' },
      to: { path: '^api/src/(routes|plugins|app\\.ts|main)' },
    },
    {
      name: 'db-is-platform',
      severity: 'error',
      comment: 'db/ (client, schema, writer) is platform: it serves repositories and knows no domain code.',
      from: { path: '^api/src/db/' },
      to: { path: '^api/src/(repositories|services|routes|plugins|schemas|app|deps|main)' },
    },
    {
      name: 'schemas-are-leaves',
      severity: 'error',
      comment: 'Schemas describe shapes; they import contracts and the db enums, nothing with behaviour.',
      from: { path: '^api/src/schemas/' },
      to: { path: '^api/src/(repositories|services|routes|plugins|app|deps|main)' },
    },
    {
      name: 'only-main-imports-wiring',
      severity: 'error',
      comment: 'deps.ts and app.ts are the wiring; only the entry points (and tests) import them.',
      from: { path: '^api/src/', pathNot: '^api/src/(main|deps|app)\\.ts$' },
      to: { path: '^api/src/(main|deps|app)\\.ts$' },
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
