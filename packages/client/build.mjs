// Builds the package: one ESM bundle (dist/index.js) with the shared contracts inlined, and its type
// declarations (dist/types). rxjs and zod stay imports (a peer dependency and a dependency), and `ws`
// is loaded only on Node without a global WebSocket. Run by `npm run build` and `npm pack`.
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
await rm(join(here, 'dist'), { recursive: true, force: true });
await build({
  entryPoints: [join(here, 'src/index.ts')],
  outfile: join(here, 'dist/index.js'),
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2020',
  external: ['rxjs', 'zod', 'ws'],
  sourcemap: true,
  logLevel: 'warning',
});
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(here, 'tsconfig.json')], {
  stdio: 'inherit',
});
