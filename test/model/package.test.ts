import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ABAW5_REFERENCE_SPEC, customFeatureSpec } from '../../src/contracts/feature-spec.js';
import { EriModel } from '../../src/model/model.js';
import { CARD_FILE, loadModelPackage } from '../../src/model/package.js';
import { initRandomPackage } from '../../src/model/package-tools.js';
import { withTempDir } from '../helpers.js';

describe('model packages', () => {
  it("init --random writes a package for the extractor's features that loads, says it is untrained and records its weights hash", async () => {
    await withTempDir(async (dir) => {
      const made = await initRandomPackage(dir, { seed: 4 });
      const pkg = await loadModelPackage(dir);
      assert.equal(pkg.card.trained, false);
      assert.match(pkg.card.description, /UNTRAINED/);
      assert.equal(pkg.card.featureSpec.id, 'eri-face-audio-v2');
      assert.equal(pkg.weights.architecture.video.inputDim, 285);
      assert.equal(pkg.weights.architecture.audio.inputDim, 157);
      assert.equal(pkg.card.weights.sha256, made.weights.sha256);
    });
  });

  it('the same seed gives the same weights; another seed does not', async () => {
    await withTempDir(async (dir) => {
      const a = await initRandomPackage(join(dir, 'a'), { seed: 9, videoDim: 8, audioDim: 8 });
      const b = await initRandomPackage(join(dir, 'b'), { seed: 9, videoDim: 8, audioDim: 8 });
      const c = await initRandomPackage(join(dir, 'c'), { seed: 10, videoDim: 8, audioDim: 8 });
      assert.equal(a.weights.sha256, b.weights.sha256);
      assert.notEqual(a.weights.sha256, c.weights.sha256);
    });
  });

  it('a card whose sizes disagree with the weights is refused, naming both', async () => {
    await withTempDir(async (dir) => {
      await initRandomPackage(dir, { seed: 1, videoDim: 8, audioDim: 6 });
      const card = JSON.parse(await readFile(join(dir, CARD_FILE), 'utf8'));
      card.architecture.video.mlpDim = 512;
      await writeFile(join(dir, CARD_FILE), JSON.stringify(card));
      await assert.rejects(loadModelPackage(dir), {
        code: 'ERI_ERR_MODEL_MISMATCH',
        message: /card.*weights.*video\.mlpDim: 512 vs 256/,
      });
    });
  });

  it('a card whose feature spec disagrees with the weights is refused', async () => {
    await withTempDir(async (dir) => {
      await initRandomPackage(dir, { seed: 1, videoDim: 8, audioDim: 6 });
      const card = JSON.parse(await readFile(join(dir, CARD_FILE), 'utf8'));
      card.featureSpec = customFeatureSpec(9, 6);
      await writeFile(join(dir, CARD_FILE), JSON.stringify(card));
      await assert.rejects(loadModelPackage(dir), {
        code: 'ERI_ERR_MODEL_MISMATCH',
        message: /video 9 features.*take 8/,
      });
    });
  });

  it('replaced weights are caught by the recorded hash', async () => {
    await withTempDir(async (dir) => {
      await initRandomPackage(join(dir, 'a'), { seed: 1, videoDim: 8, audioDim: 6 });
      await initRandomPackage(join(dir, 'b'), { seed: 2, videoDim: 8, audioDim: 6 });
      await writeFile(
        join(dir, 'a', 'weights.safetensors'),
        await readFile(join(dir, 'b', 'weights.safetensors')),
      );
      await assert.rejects(loadModelPackage(join(dir, 'a')), {
        code: 'ERI_ERR_MODEL_MISMATCH',
        message: /sha256/,
      });
    });
  });

  it('a model for another feature spec than the running extractor is refused, naming both', async () => {
    await withTempDir(async (dir) => {
      await initRandomPackage(dir, { seed: 1, videoDim: 8, audioDim: 6 });
      await assert.rejects(EriModel.load(dir, { engine: 'local', featureSpec: ABAW5_REFERENCE_SPEC }), {
        code: 'ERI_ERR_FEATURE_SPEC_MISMATCH',
        message: /expects features 'custom-8x6'.*produces 'abaw5-reference'.*video dim 8 vs 547/,
      });
    });
  });

  it('a directory without a card, or with an invalid one, is refused', async () => {
    await withTempDir(async (dir) => {
      await assert.rejects(loadModelPackage(dir), { code: 'ERI_ERR_MODEL_PACKAGE', message: /model\.json/ });
      await writeFile(join(dir, CARD_FILE), '{"format": "eri-model-package/1", "name": "x"}');
      await assert.rejects(loadModelPackage(dir), { code: 'ERI_ERR_MODEL_PACKAGE', message: /version/ });
      await writeFile(join(dir, CARD_FILE), 'not json');
      await assert.rejects(loadModelPackage(dir), {
        code: 'ERI_ERR_MODEL_PACKAGE',
        message: /not valid JSON/,
      });
    });
  });
});
