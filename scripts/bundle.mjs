// Bundles the browser scripts (publisher page) with esbuild into dist/public/. Run by `npm run build`.
import { build } from 'esbuild';

await build({
  entryPoints: { publisher: 'src/client/publisher-page.ts' },
  outdir: 'dist/public',
  bundle: true,
  format: 'iife',
  target: 'es2020',
  minify: true,
  sourcemap: true,
  logLevel: 'warning',
});
