// Bundles the k6 scenarios (load-tests/*.ts) into load-tests/dist/*.js for k6 versions that cannot run
// TypeScript: es2019 (k6 v0.48's parser rejects `?.` and `??`), one file per scenario, the k6 modules
// left as imports. The bundles sit one level below load-tests/, as lib/ does, so the paths open()
// resolves against the calling file (../scenarios.json, ../media) mean the same from both.
// Run by `npm run k6:build`.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'load-tests');
export const K6_SCENARIOS = ['subscribers', 'publishers', 'edge-publishers', 'signalling', 'history'];

await build({
  entryPoints: Object.fromEntries(K6_SCENARIOS.map((name) => [name, join(root, `${name}.ts`)])),
  outdir: join(root, 'dist'),
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2019',
  external: ['k6', 'k6/*'],
  logLevel: 'warning',
});
