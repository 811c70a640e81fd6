import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { EriError } from '../../src/errors.js';
import {
  convertFaceApiExpressionNet,
  FACEAPI_EXPRESSION_SIZE,
  FACEAPI_EXPRESSIONS,
} from '../../src/onnx/faceapi/expression-net.js';
import { readWeightsManifest } from '../../src/onnx/tfjs/graph-model.js';
import { maxAbsDiff, withTempDir } from '../helpers.js';
import { portraitRgb } from '../media.js';

const require = createRequire(import.meta.url);
const modelDir = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
const MANIFEST = 'face_expression_model-weights_manifest.json';

interface FaceApiTensor {
  data(): Promise<Float32Array>;
  dispose(): void;
}
/** The package itself on tfjs's WebAssembly backend: the reference the graph must reproduce. */
async function faceApiReference(): Promise<(rgb: Float32Array) => Promise<Float32Array>> {
  const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
  await faceapi.tf.setBackend('wasm');
  await faceapi.tf.ready();
  await faceapi.nets.faceExpressionNet.loadFromDisk(modelDir);
  return async (rgb) => {
    const size = FACEAPI_EXPRESSION_SIZE;
    const input = faceapi.tf.tensor3d(rgb, [size, size, 3]);
    const out: FaceApiTensor = await faceapi.nets.faceExpressionNet.forward(input);
    try {
      return await out.data();
    } finally {
      out.dispose();
      input.dispose();
    }
  };
}

describe("face-api's expression net -> ONNX", () => {
  it("gives the package's own probabilities on tfjs (max diff <= 1e-5), batched", async () => {
    const bytes = convertFaceApiExpressionNet(await readWeightsManifest(join(modelDir, MANIFEST)));
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
    const reference = await faceApiReference();
    const size = FACEAPI_EXPRESSION_SIZE;
    const item = size * size * 3;
    const face = await portraitRgb(size);
    // The portrait, then darker and mirrored copies: three different inputs in one batch.
    const batch = new Float32Array(3 * item);
    for (let p = 0; p < size * size; p++) {
      const mirrored = Math.floor(p / size) * size + (size - 1 - (p % size));
      for (let c = 0; c < 3; c++) {
        batch[3 * p + c] = face[3 * p + c] as number;
        batch[item + 3 * p + c] = 0.6 * (face[3 * p + c] as number);
        batch[2 * item + 3 * p + c] = face[3 * mirrored + c] as number;
      }
    }
    const result = await session.run({ input: new ort.Tensor('float32', batch, [3, size, size, 3]) });
    const probs = result.probs as ort.Tensor;
    assert.deepEqual(probs.dims, [3, FACEAPI_EXPRESSIONS.length]);
    const ours = probs.data as Float32Array;
    for (let b = 0; b < 3; b++) {
      const theirs = await reference(batch.subarray(b * item, (b + 1) * item));
      const row = ours.subarray(b * 7, (b + 1) * 7);
      assert.ok(maxAbsDiff(row, theirs) <= 1e-5, `item ${b}: ${row} vs ${theirs}`);
      assert.ok(Math.abs(row.reduce((s, v) => s + v, 0) - 1) < 1e-5, 'a distribution');
    }
    await session.release();
  });

  it('a manifest of another net, or shards that do not match it, is a typed error naming the model', async () => {
    await withTempDir(async (dir) => {
      await cp(modelDir, dir, { recursive: true });
      const other = await readWeightsManifest(join(dir, 'age_gender_model-weights_manifest.json'));
      assert.throws(
        () => convertFaceApiExpressionNet(other),
        (e: unknown) =>
          e instanceof EriError && e.code === 'ERI_ERR_FEATURES' && /age_gender_model/.test(e.message),
      );
      const bin = join(dir, 'face_expression_model.bin');
      await writeFile(bin, (await readFile(bin)).subarray(0, 1000));
      await assert.rejects(
        readWeightsManifest(join(dir, MANIFEST)),
        (e: unknown) => e instanceof EriError && /shards end inside/.test(e.message),
      );
      await writeFile(join(dir, MANIFEST), '{ not json');
      await assert.rejects(
        readWeightsManifest(join(dir, MANIFEST)),
        (e: unknown) => e instanceof EriError && /not JSON/.test(e.message),
      );
    });
  });
});
