import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from './helpers.js';

// Lint and format as one test among the others, so a style slip fails CI visibly without hiding
// every other test's result. `npm run format` fixes formatting.
it('biome check (lint + format) passes', async () => {
  const biome = join(REPO_ROOT, 'node_modules', '.bin', 'biome');
  const result = await promisify(execFile)(biome, ['check', '--colors=off', '.'], {
    cwd: REPO_ROOT,
    maxBuffer: 16 * 1024 * 1024,
  }).then(
    () => ({ ok: true, output: '' }),
    (e: { stdout?: string; stderr?: string }) => ({
      ok: false,
      output: `${e.stdout ?? ''}${e.stderr ?? ''}`,
    }),
  );
  assert.ok(result.ok, result.output.slice(0, 4000));
});
