// Bundles the browser scripts (publisher page, dashboard) with esbuild into dist/public/. Run by `npm run build`.
import { copyFile, mkdir } from 'node:fs/promises';
import { build } from 'esbuild';

await build({
  entryPoints: {
    publisher: 'src/client/publisher-page.ts',
    dashboard: 'src/client/dashboard-page.ts',
    viewer: 'src/client/viewer-page.ts',
    study: 'src/client/study-page.ts',
  },
  outdir: 'dist/public',
  bundle: true,
  format: 'iife',
  target: 'es2020',
  // The client package loads ws only where there is no global WebSocket: never in a browser.
  external: ['ws'],
  minify: true,
  sourcemap: true,
  logLevel: 'warning',
});

// The edge library (global EriEdge): the server's feature code on onnxruntime-web, loaded by pages that
// analyse in the browser. Its WebAssembly comes from the server (/v1/edge/runtime/), not the bundle.
await build({
  entryPoints: { edge: 'src/client/edge-bundle.ts' },
  outdir: 'dist/public',
  bundle: true,
  format: 'iife',
  globalName: 'EriEdge',
  target: 'es2020',
  external: ['ws'],
  minify: true,
  sourcemap: true,
  logLevel: 'warning',
});

// Its worker: the analysis off the page's thread (a plain script, as every browser loads workers).
await build({
  entryPoints: { 'edge-worker': 'src/client/edge-worker.ts' },
  outdir: 'dist/public',
  bundle: true,
  format: 'iife',
  target: 'es2020',
  external: ['ws'],
  minify: true,
  sourcemap: true,
  logLevel: 'warning',
});

await mkdir('dist/public', { recursive: true });
await copyFile('node_modules/uplot/dist/uPlot.min.css', 'dist/public/uPlot.min.css');
