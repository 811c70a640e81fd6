import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalEngine } from '../../src/model/engine.js';
import { cachedGraphs } from '../../src/model/graph-cache.js';
import { SeededRandom } from '../../src/model/init.js';
import { EriModel } from '../../src/model/model.js';
import { loadModelPackage } from '../../src/model/package.js';
import { initRandomPackage } from '../../src/model/package-tools.js';
import { assertClose, withTempDir } from '../helpers.js';

// Small input widths keep these fast; every other size is the reference's.
const VIDEO_DIM = 12;
const AUDIO_DIM = 9;
const HIDDEN = 256;

function randomMatrix(rng: SeededRandom, rows: number, cols: number): Float32Array {
  return rng.fill([rows, cols], () => rng.normal()).data;
}

describe('sequence semantics on a random package', () => {
  let dir: string;
  let engine: LocalEngine;
  const rng = new SeededRandom(11);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eri-test-'));
    const pkg = await initRandomPackage(dir, { seed: 3, videoDim: VIDEO_DIM, audioDim: AUDIO_DIM });
    engine = await LocalEngine.create(pkg.weights.architecture, await cachedGraphs(pkg.weights));
  });
  after(async () => {
    await engine?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('the GRU stepped with carried state equals the sequence graph, at batch 1 and batch 3', async () => {
    const T = 17;
    for (const batch of [1, 3]) {
      const x = randomMatrix(rng, batch * T, VIDEO_DIM); // [B, T, D]
      const seq = await engine.gruSequence({
        branch: 'video',
        batch,
        time: T,
        x,
        lengths: new Int32Array(batch).fill(T),
      });
      let h: Float32Array = new Float32Array(2 * batch * HIDDEN);
      for (let t = 0; t < T; t++) {
        const xt = new Float32Array(batch * VIDEO_DIM);
        for (let b = 0; b < batch; b++)
          xt.set(x.subarray((b * T + t) * VIDEO_DIM, (b * T + t + 1) * VIDEO_DIM), b * VIDEO_DIM);
        const step = await engine.gruStep({ branch: 'video', batch, x: xt, h });
        for (let b = 0; b < batch; b++) {
          const want = seq.y.subarray((b * T + t) * HIDDEN, (b * T + t + 1) * HIDDEN);
          assertClose(
            step.y.subarray(b * HIDDEN, (b + 1) * HIDDEN),
            want,
            1e-5,
            `batch ${batch} row ${b} step ${t}`,
          );
        }
        h = step.h;
      }
      assertClose(h, seq.h, 1e-5, `final state, batch ${batch}`);
    }
  });

  it('clips of different lengths batched with lengths and a padding mask equal each clip alone', async () => {
    const lengths = [5, 1, 23, 12];
    const T = Math.max(...lengths);
    const B = lengths.length;
    const clips = lengths.map((n) => randomMatrix(rng, n, AUDIO_DIM));
    const x = new Float32Array(B * T * AUDIO_DIM);
    const mask = new Uint8Array(B * T);
    clips.forEach((clip, b) => {
      x.set(clip, b * T * AUDIO_DIM);
      mask.fill(1, b * T, b * T + (lengths[b] as number));
    });
    // Padding holds garbage on purpose: the lengths and the mask must make it irrelevant.
    for (let b = 0; b < B; b++) {
      for (let i = (b * T + (lengths[b] as number)) * AUDIO_DIM; i < (b + 1) * T * AUDIO_DIM; i++) x[i] = 1e3;
    }
    const seq = await engine.gruSequence({
      branch: 'audio',
      batch: B,
      time: T,
      x,
      lengths: Int32Array.from(lengths),
    });
    const tokens = await engine.encode({ branch: 'audio', batch: B, time: T, gru: seq.y, mask });
    for (let b = 0; b < B; b++) {
      const n = lengths[b] as number;
      const alone = await engine.gruSequence({
        branch: 'audio',
        batch: 1,
        time: n,
        x: clips[b] as Float32Array,
        lengths: new Int32Array([n]),
      });
      assertClose(seq.y.subarray(b * T * HIDDEN, (b * T + n) * HIDDEN), alone.y, 1e-5, `clip ${b} GRU`);
      const token = await engine.encode({
        branch: 'audio',
        batch: 1,
        time: n,
        gru: alone.y,
        mask: new Uint8Array(n).fill(1),
      });
      assertClose(tokens.subarray(b * HIDDEN, (b + 1) * HIDDEN), token, 1e-5, `clip ${b} token`);
    }
  });

  it('a missing optional modality is the transformer over the regression token alone', async () => {
    const model = await EriModel.load(dir, { engine: 'local' });
    try {
      const video = { shape: [6, VIDEO_DIM], data: randomMatrix(rng, 6, VIDEO_DIM) };
      const none = await model.predict({ video });
      const empty = await model.predict({
        video,
        audio: { shape: [0, AUDIO_DIM], data: new Float32Array(0) },
      });
      assertClose(none.intensities, empty.intensities, 0, 'absent vs zero-length audio');
      // Reference check: a batch row whose only real position is the token gives the same token.
      const masked = await engine.encode({
        branch: 'audio',
        batch: 1,
        time: 3,
        gru: randomMatrix(rng, 3, HIDDEN),
        mask: new Uint8Array(3),
      });
      assertClose(none.tokenAudio, masked, 1e-6, 'token-only audio branch');
      assert.equal(none.steps.audio, 0);
    } finally {
      await model.close();
    }
  });

  it('a required modality that is missing is refused with ERI_ERR_MODALITY_MISSING', async () => {
    await withTempDir(async (d) => {
      await initRandomPackage(d, {
        seed: 1,
        videoDim: VIDEO_DIM,
        audioDim: AUDIO_DIM,
        optionalModalities: [],
      });
      const model = await EriModel.load(d, { engine: 'local' });
      try {
        await assert.rejects(
          model.predict({ video: { shape: [2, VIDEO_DIM], data: new Float32Array(2 * VIDEO_DIM) } }),
          {
            code: 'ERI_ERR_MODALITY_MISSING',
            message: /requires audio/,
          },
        );
      } finally {
        await model.close();
      }
    });
  });

  it('features of the wrong width or with NaN are refused with a message naming the shape', async () => {
    const model = await EriModel.load(dir, { engine: 'local' });
    try {
      await assert.rejects(
        model.predict({ video: { shape: [2, VIDEO_DIM + 1], data: new Float32Array(2 * (VIDEO_DIM + 1)) } }),
        {
          code: 'ERI_ERR_FEATURE_SPEC_MISMATCH',
          message: new RegExp(`\\[2,${VIDEO_DIM + 1}\\].*\\[T, ${VIDEO_DIM}\\]`),
        },
      );
      const data = new Float32Array(2 * VIDEO_DIM);
      data[VIDEO_DIM + 3] = Number.NaN;
      await assert.rejects(model.predict({ video: { shape: [2, VIDEO_DIM], data } }), {
        code: 'ERI_ERR_TENSOR_VALUES',
        message: /step 1, feature 3/,
      });
    } finally {
      await model.close();
    }
  });

  it('the worker pool gives the same numbers as the in-thread engine', async () => {
    const pooled = await EriModel.load(dir, { engine: 'pool', workers: 2 });
    const local = await EriModel.load(dir, { engine: 'local' });
    try {
      const features = {
        video: { shape: [9, VIDEO_DIM], data: randomMatrix(rng, 9, VIDEO_DIM) },
        audio: { shape: [4, AUDIO_DIM], data: randomMatrix(rng, 4, AUDIO_DIM) },
      };
      const [a, b] = await Promise.all([pooled.predict(features), local.predict(features)]);
      assertClose(a.intensities, b.intensities, 0, 'pool vs local');
      const pkg = await loadModelPackage(dir);
      assert.equal(pkg.card.trained, false);
    } finally {
      await pooled.close();
      await local.close();
    }
  });
});
