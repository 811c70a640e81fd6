import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { estimateSchema } from '../../src/contracts/estimate.js';
import { CLI, REPO_ROOT, runEri, withTempDir } from '../helpers.js';
import { ffmpeg, speech, syntheticClip } from '../media.js';

const run = promisify(execFile);

const eri = (...args: string[]) => runEri(args);

describe('eri analyze', () => {
  it('json, ndjson and csv agree; the final estimate equals predict-features on the saved features', async () => {
    await withTempDir(async (dir) => {
      const model = join(dir, 'model');
      await eri('model', 'init', '--random', '--out', model, '--seed', '5');
      // A still image with speech over it: a picture with no face and 100 % audio.
      const talk = await speech(dir, 'Reactions are measured ten times a second while the viewer watches.');
      const clip = join(dir, 'clip.mkv');
      await ffmpeg(
        '-f',
        'lavfi',
        '-i',
        'testsrc=size=320x240:rate=25',
        '-i',
        talk,
        '-shortest',
        '-c:v',
        'libx264',
        '-pix_fmt',
        'yuv420p',
        '-c:a',
        'aac',
        clip,
      );
      const features = join(dir, 'features.safetensors');
      const json = await eri(
        'analyze',
        clip,
        '--model',
        model,
        '--features',
        features,
        '--stride',
        '0.5',
        '--window',
        '2',
      );
      assert.equal(json.code, 0, json.stderr);
      const doc = JSON.parse(json.stdout);
      assert.ok(doc.steps > 20);
      assert.equal(doc.running.length, Math.floor(doc.steps / 5));
      for (const e of [...doc.running, doc.final]) estimateSchema.parse(e);
      assert.equal(doc.final.final, true);
      assert.equal(doc.coverage.face, 0);
      assert.ok(doc.coverage.speech > 0.5, `speech coverage ${doc.coverage.speech}`);
      assert.match(json.stderr, /UNTRAINED/);
      const lastRunning = doc.running.at(-1);
      assert.equal(lastRunning.windowEnd - lastRunning.windowStart, 2);

      const predicted = await eri('predict-features', '--model', model, '--input', features, '--json');
      assert.equal(predicted.code, 0, predicted.stderr);
      const offline = JSON.parse(predicted.stdout);
      assert.deepEqual(offline.steps, { video: doc.steps, audio: doc.steps });
      offline.intensities.forEach((v: number, i: number) => {
        assert.ok(Math.abs(v - doc.final.values[i]) < 1e-5, `emotion ${i}`);
      });

      const ndjson = await eri(
        'analyze',
        clip,
        '--model',
        model,
        '--format',
        'ndjson',
        '--stride',
        '0.5',
        '--window',
        '2',
      );
      const lines = ndjson.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.equal(lines.at(-1).type, 'summary');
      const estimates = lines.filter((l) => l.type === 'estimate');
      assert.equal(estimates.length, doc.running.length + 1);
      estimates.forEach((e, i) => {
        assert.equal(e.seq, i);
      });
      assert.deepEqual(estimates.at(-1).values, doc.final.values, 'the same input gives the same numbers');

      const csvPath = join(dir, 'out.csv');
      const csv = await eri('analyze', clip, '--model', model, '--format', 'csv', '--out', csvPath);
      assert.equal(csv.code, 0, csv.stderr);
      const rows = (await readFile(csvPath, 'utf8')).trim().split('\n');
      assert.match(
        rows[0] as string,
        /^kind,seq,window_start_s,window_end_s,Adoration,Amusement,Anxiety,Disgust,Empathic-Pain,Fear,Surprise,face_coverage,speech_coverage$/,
      );
      assert.match(rows.at(-1) as string, /^final,/);
    });
  });

  it('a non-media or truncated input: a coded error, a non-zero exit, and no output file', async () => {
    await withTempDir(async (dir) => {
      const model = join(dir, 'model');
      await eri('model', 'init', '--random', '--out', model);
      const junk = join(dir, 'junk.mp4');
      await writeFile(junk, 'plain text, not a video');
      const clip = await syntheticClip(dir, 'c.mkv', { fps: 25, duration: 3 });
      const truncated = join(dir, 'truncated.mkv');
      const bytes = await readFile(clip);
      await writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
      for (const input of [junk, truncated, join(dir, 'absent.mp4')]) {
        const out = join(dir, 'out.json');
        const r = await eri(
          'analyze',
          input,
          '--model',
          model,
          '--out',
          out,
          '--features',
          join(dir, 'f.safetensors'),
        );
        assert.equal(r.code, 1, input);
        assert.match(r.stderr, /ERI_ERR_MEDIA_DECODE/);
        assert.equal(existsSync(out), false, 'no output file');
        assert.equal(existsSync(join(dir, 'f.safetensors')), false, 'no features file');
        assert.deepEqual(
          (await readdir(dir)).filter((f) => f.includes('partial') || f.endsWith('.tmp')),
          [],
        );
      }
    });
  });

  it('without a model anywhere: a clear error naming what to pass', async () => {
    const r = await run(process.execPath, [CLI, 'analyze', 'x.mp4'], {
      env: { ...process.env, ERI_MODEL: '/nonexistent/model' },
    }).catch((e) => e);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ERI_ERR_MODEL_PACKAGE.*--model/);
  });

  it('features without the iris net are another spec: the shipped model refuses them, and a bad setting is named', async () => {
    const starter = join(REPO_ROOT, 'models', 'eri-starter');
    const noIris = await run(process.execPath, [CLI, 'analyze', 'x.mp4', '--model', starter], {
      env: { ...process.env, ERI_FACE_IRIS: '0' },
    }).catch((e) => e);
    assert.equal(noIris.code, 1);
    assert.match(noIris.stderr, /eri-face-audio-v2-noiris/);
    assert.match(noIris.stderr, /eri-face-audio-v2\b/);
    const bad = await run(process.execPath, [CLI, 'analyze', 'x.mp4', '--model', starter], {
      env: { ...process.env, ERI_FACE_BACKEND: 'gpu' },
    }).catch((e) => e);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /ERI_ERR_INVALID_ARGUMENT.*ERI_FACE_BACKEND/);
  });
});
