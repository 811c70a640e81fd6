// Bundles the browser scripts (publisher page, dashboard) with esbuild into dist/public/. Run by `npm run build`.
import { copyFile, mkdir } from 'node:fs/promises';
import { build } from 'esbuild';

const common = {
  outdir: 'dist/public',
  bundle: true,
  format: 'iife',
  target: 'es2020',
  // The client package loads ws only where there is no global WebSocket: never in a browser.
  external: ['ws'],
  minify: true,
  sourcemap: true,
  logLevel: 'warning',
};

await build({
  ...common,
  entryPoints: {
    publisher: 'src/client/publisher-page.ts',
    dashboard: 'src/client/dashboard-page.ts',
    viewer: 'src/client/viewer-page.ts',
    study: 'src/client/study-page.ts',
    // The edge analysis worker: the server's feature code on onnxruntime-web, off the page's thread.
    // Its WebAssembly comes from the server (/v1/edge/runtime/), not the bundle.
    'edge-worker': 'src/client/edge-worker.ts',
  },
});

// The page of `eri bench edge-transport` (served by the bench itself, never by the server).
await build({
  ...common,
  outdir: 'dist/bench-public',
  entryPoints: { 'edge-transport': 'src/bench/edge-transport-page.ts' },
});

// The edge library (global EriEdge), loaded by pages that analyse in the browser, or any web app.
await build({ ...common, entryPoints: { edge: 'src/client/edge-bundle.ts' }, globalName: 'EriEdge' });

await mkdir('dist/public', { recursive: true });
await copyFile('node_modules/uplot/dist/uPlot.min.css', 'dist/public/uPlot.min.css');
