import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { decodeMedia } from '../../src/features/decode.js';
import { REPO_ROOT, withTempDir } from '../helpers.js';
import { testMedia } from '../media.js';

/**
 * The starter build's second expression model (the `faceapi` teacher candidate): @vladmandic/face-api
 * run on the project's own decoded steps, so its row i is the features' step i.
 */

const happy = testMedia('ali-vilab_dreamtalk/mead_style_clips/W009_front_happy_level3_001.mp4');

it('faceapi-teacher labels every Nth step of a real clip, aligned with the decoder steps', {
  skip: happy.skip,
  timeout: 120_000,
}, async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, 'steps.json');
    await promisify(execFile)(
      process.execPath,
      [
        join(REPO_ROOT, 'models/starter/faceapi-teacher.mjs'),
        '--video',
        happy.path,
        '--out',
        out,
        '--every',
        '10',
      ],
      { timeout: 110_000 },
    );
    const result = JSON.parse(await readFile(out, 'utf8')) as {
      expressions: string[];
      every: number;
      steps: (number[] | null)[];
    };
    let steps = 0;
    for await (const _ of decodeMedia(happy.path, { rateHz: 10, width: 640, height: 480 })) steps++;
    assert.equal(result.steps.length, steps, 'one row per feature step');
    assert.equal(result.every, 10);
    assert.deepEqual(result.expressions, [
      'angry',
      'disgusted',
      'fearful',
      'happy',
      'sad',
      'surprised',
      'neutral',
    ]);
    const mean = new Array(7).fill(0);
    for (const [i, p] of result.steps.entries()) {
      if (i % 10 !== 0) {
        assert.equal(p, null, `step ${i} is not analysed`);
        continue;
      }
      assert.ok(p, `a face on step ${i} of a frontal studio clip`);
      assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-3, 'probabilities');
      p.forEach((x, j) => {
        mean[j] += x;
      });
    }
    assert.equal(mean.indexOf(Math.max(...mean)), 3, 'happy, over an acted happy clip');
  });
});
