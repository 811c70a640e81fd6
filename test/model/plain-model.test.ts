import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { PlainModel } from '../../src/model/plain-model.js';
import { SafetensorsFile } from '../../src/model/safetensors.js';
import { loadWeights } from '../../src/model/weights.js';
import { REFERENCE_FIXTURE, referenceFixtureSkip } from '../helpers.js';

/** The plain-TypeScript model (the benchmark's baseline) computes the reference's outputs too. */

it('the plain-TypeScript model reproduces the PyTorch reference (GRU, encoder, head)', {
  skip: referenceFixtureSkip(),
}, async () => {
  const weights = await loadWeights(join(REFERENCE_FIXTURE, 'weights.safetensors'));
  const model = new PlainModel(weights);
  const cases = await SafetensorsFile.read(join(REFERENCE_FIXTURE, 'cases.safetensors'));
  for (const name of ['case1', 'case2']) {
    const tokens: Float32Array[] = [];
    for (const branch of ['video', 'audio'] as const) {
      const x = cases.float32(`${name}.${branch}`);
      const [time, dim] = x.shape as [number, number];
      const H = weights.architecture[branch].hidden;
      let h: Float32Array = new Float32Array(2 * H);
      const gru = new Float32Array(time * H);
      for (let t = 0; t < time; t++) {
        h = model.gruStep(branch, x.data.subarray(t * dim, (t + 1) * dim), h);
        gru.set(h.subarray(H), t * H);
      }
      const expectedGru = cases.float32(`${name}.gru_${branch}`).data;
      assert.ok(
        gru.every((v, i) => Math.abs(v - (expectedGru[i] as number)) < 1e-4),
        `${name} ${branch} GRU`,
      );
      tokens.push(model.encode(branch, gru, time));
    }
    const out = model.head(tokens[0] as Float32Array, tokens[1] as Float32Array);
    const expected = cases.float32(`${name}.intensities`).data;
    for (const [i, v] of out.entries())
      assert.ok(Math.abs(v - (expected[i] as number)) < 1e-4, `${name}[${i}]: ${v} vs ${expected[i]}`);
  }
});
