import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { STARTER_MODEL_DIR } from '../../src/cli/default-model.js';
import { ERI_FACE_AUDIO_SPEC } from '../../src/contracts/feature-spec.js';
import { loadModelPackage } from '../../src/model/package.js';

/**
 * The shipped starter model: loads for this extractor, says what it is (a proxy), and carries its
 * held-out measurements next to its teacher's and a constant baseline's, so no headline number stands
 * alone and none is measured on the training identities.
 */

it('the starter model loads for the server features and its card is honest and measured', async () => {
  const pkg = await loadModelPackage(STARTER_MODEL_DIR, { featureSpec: ERI_FACE_AUDIO_SPEC });
  const card = pkg.card;
  assert.equal(card.trained, true);
  assert.equal(card.proxy, true, 'trained on teacher labels: a proxy model');
  assert.match(card.description, /Not trained on Hume-Reaction/);
  assert.equal(card.training.settings?.weight_decay, 0.5, "the seed's recipe");
  assert.equal(card.training.settings?.epochs, 100);
  const metric = (name: string, split: string) =>
    card.metrics.find((m) => m.name === name && m.split === split);
  for (const who of ['', '.constant']) {
    assert.ok(metric(`direction_vs_neutral${who}`, 'MEAD held-out'), `held-out direction${who}`);
    assert.ok(metric(`top1_mapped_emotion${who}`, 'MEAD held-out'), `held-out top-1${who}`);
  }
  const teacher = String(card.training.settings?.teacher ?? '');
  assert.ok(metric(`direction_vs_neutral.teacher_${teacher}`, 'MEAD held-out'), 'its teacher, side by side');
  assert.ok(
    card.metrics.some((m) => m.split === 'running check' && /WolfgangLanger/.test(m.note ?? '')),
    'the running check on a change of expression',
  );
  for (const m of card.metrics.filter((x) => x.split === 'MEAD held-out'))
    assert.match(m.note ?? '', /\[[-\d.]+, [-\d.]+\], n=\d+/, `${m.name} has its bootstrap interval`);

  const readme = await readFile(join(STARTER_MODEL_DIR, 'README.md'), 'utf8');
  for (const needle of [
    'proxy',
    'not trained on Hume-Reaction',
    'Teacher',
    'public-domain',
    'held-out',
    'Limits',
    'Recipe',
    'Reproduce, replace',
  ])
    assert.ok(readme.toLowerCase().includes(needle.toLowerCase()), `the card covers: ${needle}`);
  // A student worse than its teacher on held-out people is shipped only with the card saying so.
  const student = metric('direction_vs_neutral', 'MEAD held-out')?.value ?? 0;
  const taught = metric(`direction_vs_neutral.teacher_${teacher}`, 'MEAD held-out')?.value ?? 0;
  if (student < taught) assert.match(readme, /worse than its teacher/i);
});
