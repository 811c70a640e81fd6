import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { STARTER_MODEL_DIR } from '../../src/cli/default-model.js';
import { ERI_FACE_AUDIO_SPEC } from '../../src/contracts/feature-spec.js';
import { loadModelPackage } from '../../src/model/package.js';

/** The shipped starter model: loads for this extractor, says what it is, and carries its measurements. */

it('the starter model loads for the server features and its card is honest and measured', async () => {
  const pkg = await loadModelPackage(STARTER_MODEL_DIR, { featureSpec: ERI_FACE_AUDIO_SPEC });
  assert.equal(pkg.card.trained, true);
  assert.match(pkg.card.description, /Not trained on Hume-Reaction/);
  const metric = (name: string, split: string) =>
    pkg.card.metrics.find((m) => m.name === name && m.split === split)?.value;
  assert.ok((metric('mean_pearson_r', 'Val') ?? 0) > 0.5, 'beats the constant predictor on its proxy labels');
  assert.ok((metric('mae', 'Val') ?? 1) < (metric('mae.constant_baseline', 'Val') ?? 0));
  assert.ok(metric('top1_mapped_emotion', 'MEAD held-out') !== undefined, 'the held-out check is recorded');
  const readme = await readFile(join(STARTER_MODEL_DIR, 'README.md'), 'utf8');
  for (const needle of [
    'not trained on Hume-Reaction',
    'Teacher labels',
    'public-domain',
    'Reproduce, replace',
  ])
    assert.ok(readme.toLowerCase().includes(needle.toLowerCase()), `the card covers: ${needle}`);
});
