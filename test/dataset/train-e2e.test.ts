import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { portraitsMissing } from '../../src/dataset/portraits.js';
import { pythonBinary, TRAINING_DIR } from '../../src/dataset/python-trainer.js';
import { loadModelPackage } from '../../src/model/package.js';
import { CLI, pythonTorchSkip, runEri, withTempDir } from '../helpers.js';
import { makeSyntheticDataset } from './synthetic-dataset.js';

/**
 * A synthetic Hume-Reaction-format dataset through extract -> train (PyTorch) -> eval (onnxruntime), as a
 * user would run it. The validation split has 12 clips: the mean over 7 emotions of Pearson r for
 * predictions unrelated to the labels has a standard deviation of about 1/sqrt(11)/sqrt(7) ≈ 0.11, so a
 * mean r of 0.5 is more than 4 standard deviations above what a constant (r = 0 by definition) or a
 * lucky guess gets; the MAE must beat the constant predictor's too.
 */

const MIN_MEAN_R = 0.5;

async function python(args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(pythonBinary(), args, {
    env: { ...process.env, PYTHONPATH: TRAINING_DIR },
    timeout: 300_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

function csvRows(text: string): Map<string, number[]> {
  const rows = text.trim().split('\n').slice(1);
  return new Map(
    rows.map((r) => {
      const [id, ...v] = r.split(',');
      return [id as string, v.map(Number)];
    }),
  );
}

/** Runs `eri extract` and SIGKILLs it once `killAfter` clips are written. */
async function interruptedExtract(dataset: string, out: string, killAfter: number): Promise<void> {
  const child = spawn(process.execPath, [CLI, 'extract', dataset, '--out', out, '--no-progress'], {
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  for (;;) {
    const done = await readdir(join(out, 'clips')).catch(() => [] as string[]);
    if (done.filter((f) => f.endsWith('.safetensors')).length >= killAfter) break;
    if (child.exitCode !== null) throw new Error('extract finished before it could be interrupted');
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  await exited;
}

const skip = portraitsMissing() || pythonTorchSkip();

describe('training pipeline: extract -> train -> eval', { skip }, () => {
  it('learns a synthetic dataset, resumes an interrupted extract, and agrees with PyTorch and numpy', {
    timeout: 900_000,
  }, async () => {
    await withTempDir(async (dir) => {
      const dataset = join(dir, 'dataset');
      await makeSyntheticDataset(dataset, { count: 36, seconds: 3, broken: true });

      // Uninterrupted extraction; bad clips are reported, not fatal.
      const features = join(dir, 'features');
      const extracted = await runEri(['extract', dataset, '--out', features, '--no-progress'], {
        timeoutMs: 600_000,
      });
      assert.equal(extracted.code, 0, extracted.stderr);
      const index = JSON.parse(await readFile(join(features, 'index.json'), 'utf8'));
      assert.equal(index.clips.length, 36);
      assert.deepEqual(
        index.failed.map((f: { id: string; code: string }) => [f.id, f.code]),
        [
          ['broken', 'ERI_ERR_MEDIA_DECODE'],
          ['absent', 'ERI_ERR_DATASET'],
        ],
      );
      assert.ok(
        index.clips.every((c: { coverage: { face: number } }) => c.coverage.face > 0.8),
        'the portraits are seen',
      );

      // Interrupted (SIGKILL mid-run), then resumed: the same index, byte for byte.
      const resumed = join(dir, 'resumed');
      await interruptedExtract(dataset, resumed, 8);
      const again = await runEri(['extract', dataset, '--out', resumed, '--no-progress'], {
        timeoutMs: 600_000,
      });
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /[1-9]\d* already done/);
      assert.equal(
        await readFile(join(resumed, 'index.json'), 'utf8'),
        await readFile(join(features, 'index.json'), 'utf8'),
      );

      // Train with the seed's recipe (a larger learning rate: 24 clips, 30 epochs).
      const model = join(dir, 'model');
      const train = ['train', features, '--out', model, '--lr', '1e-3', '--epochs', '30', '--patience', '30'];
      const trained = await runEri([...train, '--name', 'synthetic'], { timeoutMs: 600_000 });
      assert.equal(trained.code, 0, trained.stderr);
      const pkg = await loadModelPackage(model);
      assert.equal(pkg.card.trained, true);
      assert.equal(pkg.card.featureSpec.id, 'eri-face-audio-v2');
      const constantMae = pkg.card.metrics.find((m) => m.name === 'mae.constant_baseline')?.value as number;

      // Evaluate through the server's onnxruntime inference.
      const evalDir = join(dir, 'eval');
      const evaluated = await runEri(['eval', model, features, '--split', 'Val', '--out', evalDir]);
      assert.equal(evaluated.code, 0, evaluated.stderr);
      const metrics = JSON.parse(await readFile(join(evalDir, 'metrics.json'), 'utf8'));
      assert.equal(metrics.clips, 12);
      assert.ok(metrics.meanPearsonR >= MIN_MEAN_R, `mean r ${metrics.meanPearsonR} < ${MIN_MEAN_R}`);
      assert.ok(
        metrics.mae < constantMae,
        `MAE ${metrics.mae} is not below the constant predictor's ${constantMae}`,
      );
      assert.match(await readFile(join(evalDir, 'scatter.svg'), 'utf8'), /^<svg[^>]+>/);
      const tsPredictions = csvRows(await readFile(join(evalDir, 'predictions.csv'), 'utf8'));

      // numpy's Pearson r on the same predictions and labels gives the same numbers.
      const numpy = JSON.parse(
        await python([
          '-c',
          `import json, numpy as np
index = json.load(open(${JSON.stringify(join(features, 'index.json'))}))
labels = {c['id']: c['labels'] for c in index['clips'] if c['split'] == 'Val'}
rows = [l.strip().split(',') for l in open(${JSON.stringify(join(evalDir, 'predictions.csv'))})][1:]
pred = np.array([[float(v) for v in r[1:]] for r in rows]); true = np.array([labels[r[0]] for r in rows])
r = [float(np.corrcoef(pred[:, j], true[:, j])[0, 1]) for j in range(7)]
print(json.dumps({'r': r, 'mean': float(np.mean(r)), 'mae': float(np.abs(pred - true).mean())}))`,
        ]),
      );
      const ours = Object.values(metrics.pearsonR) as number[];
      for (const [j, r] of (numpy.r as number[]).entries())
        assert.ok(Math.abs(r - (ours[j] as number)) < 1e-9, `r[${j}] ${ours[j]} vs numpy ${r}`);
      assert.ok(Math.abs(numpy.mean - metrics.meanPearsonR) < 1e-9);
      assert.ok(Math.abs(numpy.mae - metrics.mae) < 1e-9);

      // PyTorch's predictions with the exported weights equal the TypeScript server's (1e-4).
      const pyCsv = join(dir, 'torch-predictions.csv');
      await python(['-m', 'eri_train', 'predict', model, features, '--split', 'Val', '--out', pyCsv]);
      const torchPredictions = csvRows(await readFile(pyCsv, 'utf8'));
      assert.equal(torchPredictions.size, 12);
      for (const [id, row] of torchPredictions) {
        const ts = tsPredictions.get(id) as number[];
        for (const [j, v] of row.entries())
          assert.ok(Math.abs(v - (ts[j] as number)) <= 1e-4, `${id}[${j}]: torch ${v} vs server ${ts[j]}`);
      }

      // A rerun of train resumes from its checkpoint instead of starting over.
      const rerun = await runEri(train);
      assert.equal(rerun.code, 0, rerun.stderr);
      assert.match(rerun.stdout, /resumed from .*last\.pt after epoch 30/);
    });
  });
});
