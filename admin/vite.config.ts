import { defineConfig } from 'vite';

/**
 * The console is served by the API at /admin (api/src/platform/http/admin-static.ts), so every
 * asset URL starts with /admin/. TSX is compiled by esbuild's automatic JSX runtime: no React
 * plugin is needed (no fast refresh in `npm run dev`, which is fine for an operator console).
 * `npm run dev` proxies /api to a locally running API.
 */
export default defineConfig({
  base: '/admin/',
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 4096,
    rollupOptions: {
      // MUI marks modules "use client" for React Server Components; meaningless in a SPA bundle.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
    },
  },
  server: { proxy: { '/api': 'http://127.0.0.1:3000' } },
});
