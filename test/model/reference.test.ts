import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalEngine } from '../../src/model/engine.js';
import { cachedGraphs } from '../../src/model/graph-cache.js';
import { EriModel } from '../../src/model/model.js';
import { importWeights } from '../../src/model/package-tools.js';
import { SafetensorsFile } from '../../src/model/safetensors.js';
import { loadWeights } from '../../src/model/weights.js';
import { assertClose, REFERENCE_FIXTURE, referenceFixtureSkip, withTempDir } from '../helpers.js';

// The reference model run in PyTorch on random weights and features: every GRU output, token and
// intensity must be reproduced to 1e-4 (observed: ~1e-6).
const TOL = 1e-4;
const CASES = ['case0', 'case1', 'case2', 'case3'] as const;
const skip = referenceFixtureSkip();

describe('reference fixture (PyTorch) reproduced by the ONNX graphs', { skip }, () => {
  let engine: LocalEngine;
  let cases: SafetensorsFile;

  before(async () => {
    const weights = await loadWeights(join(REFERENCE_FIXTURE, 'weights.safetensors'));
    engine = await LocalEngine.create(weights.architecture, await cachedGraphs(weights));
    cases = await SafetensorsFile.read(join(REFERENCE_FIXTURE, 'cases.safetensors'));
  });
  after(() => engine?.close());

  for (const c of CASES) {
    it(`${c}: GRU outputs, tokens and intensities match`, async () => {
      const tokens: Record<string, Float32Array> = {};
      for (const branch of ['video', 'audio'] as const) {
        const x = cases.float32(`${c}.${branch}`);
        const time = x.shape[0] as number;
        const seq = await engine.gruSequence({
          branch,
          batch: 1,
          time,
          x: x.data,
          lengths: new Int32Array([time]),
        });
        assertClose(seq.y, cases.float32(`${c}.gru_${branch}`).data, TOL, `${c} gru_${branch}`);
        const token = await engine.encode({
          branch,
          batch: 1,
          time,
          gru: seq.y,
          mask: new Uint8Array(time).fill(1),
        });
        assertClose(token, cases.float32(`${c}.token_${branch}`).data, TOL, `${c} token_${branch}`);
        tokens[branch] = token;
      }
      const out = await engine.head({
        batch: 1,
        tokenVideo: tokens.video as Float32Array,
        tokenAudio: tokens.audio as Float32Array,
      });
      assertClose(out, cases.float32(`${c}.intensities`).data, TOL, `${c} intensities`);
    });

    it(`${c}: the GRU stepped one frame at a time equals the reference`, async () => {
      for (const branch of ['video', 'audio'] as const) {
        const x = cases.float32(`${c}.${branch}`);
        const [time, dim] = x.shape as [number, number];
        const expected = cases.float32(`${c}.gru_${branch}`).data;
        let h: Float32Array = new Float32Array(2 * 256);
        for (let t = 0; t < time; t++) {
          const step = await engine.gruStep({
            branch,
            batch: 1,
            x: x.data.subarray(t * dim, (t + 1) * dim),
            h,
          });
          assertClose(step.y, expected.subarray(t * 256, (t + 1) * 256), TOL, `${c} ${branch} step ${t}`);
          h = step.h;
        }
      }
    });
  }

  it('a package imported from the fixture weights predicts each case through the worker pool', async () => {
    await withTempDir(async (dir) => {
      await importWeights(join(REFERENCE_FIXTURE, 'weights.safetensors'), dir);
      const model = await EriModel.load(dir, { engine: 'pool', workers: 2 });
      try {
        const results = await Promise.all(
          CASES.map(async (c) => {
            const input = await SafetensorsFile.read(join(REFERENCE_FIXTURE, `${c}.input.safetensors`));
            return [
              c,
              await model.predict({ video: input.float32('video'), audio: input.float32('audio') }),
            ] as const;
          }),
        );
        for (const [c, p] of results) {
          assertClose(p.intensities, cases.float32(`${c}.intensities`).data, TOL, `${c} intensities`);
          assertClose(p.tokenVideo, cases.float32(`${c}.token_video`).data, TOL, `${c} token_video`);
          assertClose(p.tokenAudio, cases.float32(`${c}.token_audio`).data, TOL, `${c} token_audio`);
        }
        assert.equal(model.card.trained, true);
      } finally {
        await model.close();
      }
    });
  });
});
