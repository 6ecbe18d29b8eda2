/**
 * Build of the web console (npm run build:console): the Preact sources of web/ into dist/console/, which
 * console-routes.ts serves at /ui/. Everything the page needs is bundled: no request leaves the collector.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: path.join(here, 'web'),
  base: '/ui/',
  logLevel: 'warn',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: path.join(here, '../../dist/console'),
    emptyOutDir: true,
    target: 'es2022',
    // The console's own assets only: an inlined data: URL would need a wider Content-Security-Policy.
    assetsInlineLimit: 0,
    reportCompressedSize: false,
  },
});
