import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/** Bundles everything (no CDN, system fonts) into dist/, which the node serves as its UI. */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, assetsInlineLimit: 0, target: 'es2022' },
  server: { proxy: { '/api': 'http://127.0.0.1:7070' } },
});
