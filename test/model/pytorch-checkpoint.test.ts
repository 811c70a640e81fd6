import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { pythonBinary, TRAINING_DIR } from '../../src/dataset/python-trainer.js';
import { pythonTorchSkip, REFERENCE_FIXTURE, referenceFixtureSkip, runEri, withTempDir } from '../helpers.js';

/**
 * A checkpoint as the reference code saves it (PyTorch Lightning: {'state_dict': {'model.<name>': …}})
 * goes through `python3 -m eri_train import-checkpoint` and `eri model import`, and the server then
 * computes the reference outputs. The training package's own PyTorch model reproduces them too, clips
 * batched with end padding (the masking every training batch relies on).
 */

const python = (args: string[]) =>
  promisify(execFile)(pythonBinary(), args, {
    env: { ...process.env, PYTHONPATH: TRAINING_DIR },
    timeout: 120_000,
  });

describe('PyTorch checkpoints', { skip: referenceFixtureSkip() || pythonTorchSkip() }, () => {
  it('a Lightning-style reference checkpoint imports and reproduces the reference outputs', async () => {
    await withTempDir(async (dir) => {
      const ckpt = join(dir, 'epoch=3.ckpt');
      await python([
        '-c',
        `import torch; from eri_train import safetensors_io
w, _ = safetensors_io.read(${JSON.stringify(join(REFERENCE_FIXTURE, 'weights.safetensors'))})
torch.save({'epoch': 3, 'state_dict': {'model.' + k: v for k, v in w.items()}, 'optimizer_states': []}, ${JSON.stringify(ckpt)})`,
      ]);
      const weights = join(dir, 'weights.safetensors');
      await python(['-m', 'eri_train', 'import-checkpoint', ckpt, '--out', weights]);
      const pkg = join(dir, 'pkg');
      let r = await runEri(['model', 'import', weights, '--out', pkg, '--feature-spec', 'abaw5-reference']);
      assert.equal(r.code, 0, r.stderr);
      const manifest = JSON.parse(await readFile(join(REFERENCE_FIXTURE, 'manifest.json'), 'utf8'));
      for (const c of manifest.case_list as { name: string; intensities: number[] }[]) {
        r = await runEri([
          'predict-features',
          '--model',
          pkg,
          '--input',
          join(REFERENCE_FIXTURE, `${c.name}.input.safetensors`),
          '--json',
        ]);
        assert.equal(r.code, 0, r.stderr);
        const got = JSON.parse(r.stdout).intensities as number[];
        for (const [j, v] of c.intensities.entries())
          assert.ok(Math.abs((got[j] as number) - v) < 1e-4, `${c.name}[${j}]`);
      }
    });
  });

  it("the training package's model, batched with padding, equals the reference per clip", async () => {
    const { stdout } = await python([
      '-c',
      `import torch; from eri_train import safetensors_io; from eri_train.model import EriModel; from eri_train.data import pad
w, _ = safetensors_io.read(${JSON.stringify(join(REFERENCE_FIXTURE, 'weights.safetensors'))})
cases, _ = safetensors_io.read(${JSON.stringify(join(REFERENCE_FIXTURE, 'cases.safetensors'))})
m = EriModel(547, 1024).eval(); m.load_state_dict(w, strict=True)
names = ['case0', 'case1', 'case2', 'case3']
v, vl = pad([cases[n + '.video'] for n in names], 547); a, al = pad([cases[n + '.audio'] for n in names], 1024)
with torch.no_grad(): out = m(v, vl, a, al)
print(max((out[i] - cases[n + '.intensities']).abs().max().item() for i, n in enumerate(names)))`,
    ]);
    assert.ok(Number(stdout) < 1e-5, `max |diff| ${stdout}`);
  });
});
