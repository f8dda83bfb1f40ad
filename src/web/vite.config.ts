// Vite build of the triage UI: `npm run build:web` (also run by `npm install` through `prepare`).
// Sources in ui/, output in dist/web, served under /ui/ by serve.ts.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// Vite reads its config from the module's default export: the house rule against default
// exports gives way here.
export default defineConfig({
  root: here('./ui'),
  base: '/ui/',
  publicDir: false,
  clearScreen: false,
  logLevel: 'warn',
  // JSX through esbuild's automatic runtime, pointed at Preact (no preset plugin needed).
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: here('../../dist/web'),
    emptyOutDir: true,
    target: 'es2022',
    assetsDir: 'assets',
    // The polyfill would be inline-free anyway; every browser that runs ES2022 has modulepreload.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
});
