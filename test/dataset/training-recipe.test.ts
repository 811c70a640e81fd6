import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { pythonBinary, TRAINING_DIR } from '../../src/dataset/python-trainer.js';
import { pythonTorchSkip } from '../helpers.js';

/**
 * The training package's own unit tests (models/training/tests): the seed's recipe is the default, and
 * dropout placement and gradient clipping are pinned so they cannot drift.
 */
it('eri_train pins the seed recipe: dropout placement, clipping, defaults', {
  skip: pythonTorchSkip(),
  timeout: 120_000,
}, async () => {
  const { stderr } = await promisify(execFile)(
    pythonBinary(),
    ['-m', 'unittest', 'discover', '-s', join(TRAINING_DIR, 'tests')],
    { env: { ...process.env, PYTHONPATH: TRAINING_DIR }, timeout: 110_000 },
  );
  assert.match(stderr, /^OK$/m, stderr);
});
