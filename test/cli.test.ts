import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REFERENCE_FIXTURE, referenceFixtureSkip, runEri, withTempDir } from './helpers.js';

const eri = (...args: string[]) => runEri(args);

describe('eri CLI', () => {
  it('every command has --help', async () => {
    for (const cmd of [
      [],
      ['model'],
      ['model', 'info'],
      ['model', 'export'],
      ['model', 'import'],
      ['model', 'init'],
      ['model', 'sample-input'],
      ['predict-features'],
      ['bench'],
      ['bench', 'model'],
      ['bench', 'estimate'],
      ['bench', 'e2e'],
      ['extract'],
      ['train'],
      ['eval'],
      ['token'],
      ['fuzz'],
      ['load', 'prepare'],
      ['load', 'run'],
      ['study', 'create'],
      ['study', 'export'],
    ]) {
      const r = await eri(...cmd, '--help');
      assert.equal(r.code, 0, `${cmd.join(' ')} --help: ${r.stderr}`);
      assert.match(r.stdout, /Usage: eri/);
    }
  });

  it('a command that runs but fails its check exits non-zero: eri fuzz against nothing listening', async () => {
    const r = await eri('fuzz', '--url', 'http://127.0.0.1:9', '--inputs', '20');
    assert.equal(r.code, 1, `${r.stdout}${r.stderr}`);
  });

  it('init --random -> sample-input -> predict-features, human and JSON output', async () => {
    await withTempDir(async (dir) => {
      const model = join(dir, 'model');
      const input = join(dir, 'features.safetensors');
      let r = await eri(
        'model',
        'init',
        '--random',
        '--out',
        model,
        '--video-dim',
        '16',
        '--audio-dim',
        '8',
        '--seed',
        '2',
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /UNTRAINED/);
      r = await eri(
        'model',
        'sample-input',
        model,
        '--out',
        input,
        '--video-steps',
        '12',
        '--audio-steps',
        '7',
      );
      assert.equal(r.code, 0, r.stderr);
      r = await eri('predict-features', '--model', model, '--input', input);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /UNTRAINED/);
      for (const e of ['Adoration', 'Amusement', 'Anxiety', 'Disgust', 'Empathic-Pain', 'Fear', 'Surprise']) {
        assert.match(r.stdout, new RegExp(`^${e}\\s+0\\.\\d{4}`, 'm'));
      }
      r = await eri('predict-features', '--model', model, '--input', input, '--json');
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.equal(out.intensities.length, 7);
      assert.equal(out.token_video.length, 256);
      assert.equal(out.token_audio.length, 256);
      assert.deepEqual(out.steps, { video: 12, audio: 7 });
      assert.equal(out.model.trained, false);
      r = await eri('model', 'info', model, '--json');
      assert.equal(JSON.parse(r.stdout).featureSpec.id, 'custom-16x8');
      r = await eri('model', 'export', model, '--out', join(dir, 'onnx'));
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual((await readdir(join(dir, 'onnx'))).sort(), [
        'encoder.audio.onnx',
        'encoder.video.onnx',
        'gru_seq.audio.onnx',
        'gru_seq.video.onnx',
        'gru_step.audio.onnx',
        'gru_step.video.onnx',
        'head.onnx',
      ]);
    });
  });

  it('import of the reference weights infers every size and reproduces the fixture intensities', {
    skip: referenceFixtureSkip(),
  }, async () => {
    await withTempDir(async (dir) => {
      let r = await eri('model', 'import', join(REFERENCE_FIXTURE, 'weights.safetensors'), '--out', dir);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /video: 547 features -> GRU 2x256 -> transformer 4 layers, 4x64 heads, MLP 256/);
      assert.match(r.stdout, /audio: 1024 features/);
      r = await eri(
        'predict-features',
        '--model',
        dir,
        '--input',
        join(REFERENCE_FIXTURE, 'case2.input.safetensors'),
        '--json',
      );
      assert.equal(r.code, 0, r.stderr);
      const expected = [0.9999691, 0.021452, 0.000515, 0.3117842, 0.9351805, 0.1908957, 0.2322036];
      JSON.parse(r.stdout).intensities.forEach((v: number, i: number) => {
        assert.ok(Math.abs(v - (expected[i] as number)) < 1e-4, `emotion ${i}: ${v}`);
      });
    });
  });

  it('bad input gives a coded error and a non-zero exit, never a stack trace', async () => {
    await withTempDir(async (dir) => {
      const model = join(dir, 'model');
      await eri('model', 'init', '--random', '--out', model, '--video-dim', '4', '--audio-dim', '4');
      const junk = join(dir, 'junk.safetensors');
      await writeFile(junk, 'this is not a tensor file');
      const cases: [string[], RegExp][] = [
        [['predict-features', '--model', model, '--input', junk], /ERI_ERR_SAFETENSORS_FORMAT/],
        [
          ['predict-features', '--model', model, '--input', join(dir, 'missing.safetensors')],
          /ERI_ERR_FILE_READ/,
        ],
        [
          ['predict-features', '--model', dir, '--input', junk],
          /ERI_ERR_MODEL_PACKAGE|ERI_ERR_SAFETENSORS_FORMAT/,
        ],
        [['model', 'info', join(dir, 'nowhere')], /ERI_ERR_MODEL_PACKAGE/],
        [['model', 'import', junk, '--out', join(dir, 'x')], /ERI_ERR_SAFETENSORS_FORMAT/],
        [['model', 'init', '--out', join(dir, 'y')], /--random/],
        [['model', 'init', '--random', '--out', join(dir, 'y'), '--video-dim', '-3'], /positive integer/],
      ];
      for (const [args, pattern] of cases) {
        const r = await eri(...args);
        assert.notEqual(r.code, 0, args.join(' '));
        assert.match(r.stderr, pattern, args.join(' '));
        assert.doesNotMatch(r.stderr, /\n\s+at /, `no stack trace for ${args.join(' ')}`);
      }
    });
  });

  it('features of another spec than the model are refused with both named', async () => {
    await withTempDir(async (dir) => {
      await eri('model', 'init', '--random', '--out', join(dir, 'a'), '--video-dim', '4', '--audio-dim', '4');
      await eri('model', 'init', '--random', '--out', join(dir, 'b'), '--video-dim', '5', '--audio-dim', '4');
      await eri('model', 'sample-input', join(dir, 'b'), '--out', join(dir, 'f.safetensors'));
      const r = await eri(
        'predict-features',
        '--model',
        join(dir, 'a'),
        '--input',
        join(dir, 'f.safetensors'),
      );
      assert.equal(r.code, 1);
      assert.match(r.stderr, /ERI_ERR_FEATURE_SPEC_MISMATCH.*'custom-5x4'.*'custom-4x4'/);
    });
  });
});

it('eri train, eval and extract refuse bad input with a code, not a traceback', async () => {
  await withTempDir(async (dir) => {
    let r = await eri('extract', dir, '--out', join(dir, 'f'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\[ERI_ERR_DATASET\].*data_info\.csv/);
    r = await eri('train', dir, '--out', join(dir, 'm'));
    assert.match(r.stderr, /\[ERI_ERR_DATASET\].*index\.json/);
    r = await eri('eval', dir, dir);
    assert.match(r.stderr, /\[ERI_ERR_DATASET\]/);
    r = await eri('token', '--scope', 'publish:lobby');
    assert.match(r.stderr, /ERI_JWT_SECRET/);
  });
});
