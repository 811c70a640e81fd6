import assert from 'node:assert/strict';
import { cp, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import type { FaceNetworkId } from '../../src/features/face/face-graphs.js';
import { convertedNetwork, humanModelsDir } from '../../src/features/face/face-networks.js';
import { convertGraphModel } from '../../src/onnx/tfjs/convert.js';
import { readGraphModel, widenFloat16 } from '../../src/onnx/tfjs/graph-model.js';
import { loadReferenceModel } from '../../src/onnx/tfjs/tfjs-reference.js';
import { withTempDir } from '../helpers.js';
import { portraitRgb } from '../media.js';

/** Each network's input as Human prepares it, `batch` items that differ in brightness. */
async function inputFor(id: FaceNetworkId, batch: number): Promise<{ data: Float32Array; dims: number[] }> {
  const spec = { detector: [256, 3], mesh: [192, 3], iris: [64, 3], expression: [64, 1] }[id];
  const [size, channels] = spec as [number, number];
  const rgb = await portraitRgb(size);
  const item = size * size * channels;
  const data = new Float32Array(batch * item);
  for (let b = 0; b < batch; b++) {
    const gain = 1 - 0.2 * b;
    for (let p = 0; p < size * size; p++) {
      const px = [0, 1, 2].map((c) => (rgb[3 * p + c] as number) * gain);
      if (channels === 1) {
        const g = (0.2989 * (px[0] as number) + 0.587 * (px[1] as number) + 0.114 * (px[2] as number)) / 255;
        data[b * item + p] = (g - 0.5) * 2;
      } else {
        for (let c = 0; c < 3; c++) {
          const v = px[c] as number;
          data[b * item + 3 * p + c] = id === 'detector' ? v / 127.5 - 1 : v / 255;
        }
      }
    }
  }
  return { data, dims: [batch, size, size, channels] };
}

/**
 * Largest difference over the output's own scale, the scale floored at 1: relative for values such as
 * mesh coordinates, absolute for probabilities and scores in 0..1.
 */
function relativeDifference(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let diff = 0;
  let scale = 1;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(b[i] as number));
  }
  return diff / scale;
}

const FILES: Record<FaceNetworkId, string> = {
  detector: 'blazeface.json',
  mesh: 'facemesh.json',
  iris: 'iris.json',
  expression: 'emotion.json',
};

describe('TensorFlow.js graph -> ONNX converter', () => {
  for (const id of ['detector', 'mesh', 'iris', 'expression'] as const) {
    it(`${id}: the converted graph gives tfjs's outputs (rel. diff <= 1e-3) at batch 1 and batch 3`, async () => {
      await withTempDir(async (cacheRoot) => {
        const { bytes } = await convertedNetwork(id, { cacheRoot });
        const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
        const reference = await loadReferenceModel(join(humanModelsDir(), FILES[id]));
        try {
          const outputs = session.outputNames;
          for (const batch of [1, 3]) {
            const { data, dims } = await inputFor(id, batch);
            const result = await session.run({
              [session.inputNames[0] as string]: new ort.Tensor('float32', data, dims),
            });
            // The detector's placeholder is fixed at batch 1 in tfjs: compare it item by item.
            const perItem = id === 'detector' ? batch : 1;
            const itemDims = [dims[0] === undefined ? 1 : dims[0] / perItem, ...dims.slice(1)];
            const itemSize = data.length / perItem;
            for (const [k, name] of outputs.entries()) {
              const ours = (result[name] as ort.Tensor).data as Float32Array;
              assert.equal((result[name] as ort.Tensor).dims[0], batch, `${name} keeps the batch`);
              const theirs = new Float32Array(ours.length);
              for (let i = 0; i < perItem; i++) {
                const values = reference.run(
                  data.subarray(i * itemSize, (i + 1) * itemSize),
                  itemDims,
                  outputs,
                );
                theirs.set(values[k] as Float32Array, (i * ours.length) / perItem);
              }
              const rel = relativeDifference(ours, theirs);
              assert.ok(rel <= 1e-3, `${id} ${name} batch ${batch}: relative difference ${rel}`);
            }
          }
        } finally {
          reference.dispose();
          await session.release();
        }
      });
    });
  }

  it('converts once: the second use reads the cache, keyed by the source files', async () => {
    await withTempDir(async (dir) => {
      const cacheRoot = join(dir, 'cache');
      const first = await convertedNetwork('expression', { cacheRoot });
      const mtime = (await stat(first.path)).mtimeMs;
      const second = await convertedNetwork('expression', { cacheRoot });
      assert.equal(second.path, first.path);
      assert.equal((await stat(second.path)).mtimeMs, mtime, 'not written again');
      // Other source files (here: the same model with its JSON re-serialised) get another key.
      const models = join(dir, 'models');
      await cp(humanModelsDir(), models, { recursive: true });
      const json = join(models, 'emotion.json');
      await writeFile(json, JSON.stringify(JSON.parse(await readFile(json, 'utf8')), null, 1));
      const other = await convertedNetwork('expression', { cacheRoot, modelsDir: models });
      assert.notEqual(other.path, first.path);
    });
  });

  it("pads a widening block's shortcut with an identity 1x1 convolution, not a Pad (onnxruntime's blocked layout)", async () => {
    for (const file of ['facemesh.json', 'iris.json']) {
      const model = await readGraphModel(join(humanModelsDir(), file));
      const pads = model.nodes.filter((n) => n.op === 'Pad').length;
      assert.ok(pads > 0, `${file} has channel pads to convert`);
      const graph = onnxProto.onnx.ModelProto.decode(convertGraphModel(model)).graph;
      const ops = (graph?.node ?? []).map((n) => n.opType);
      assert.equal(ops.filter((op) => op === 'Pad').length, 0, `${file}: no Pad left`);
      const identities = (graph?.initializer ?? []).filter((t) => /\/identity_\d+$/.test(String(t.name)));
      assert.equal(identities.length, pads, `${file}: one identity convolution per pad`);
    }
  });

  it('an op it does not know is an error naming the op and the model', async () => {
    const model = await readGraphModel(join(humanModelsDir(), 'emotion.json'));
    const node = model.nodes.find((n) => n.op === 'Softmax');
    assert.ok(node);
    node.op = 'FancyOp';
    assert.throws(
      () => convertGraphModel(model),
      (e: Error & { code?: string }) =>
        e.code === 'ERI_ERR_FEATURES' && /emotion/.test(e.message) && /'FancyOp'/.test(e.message),
    );
  });

  it('refuses shards that do not match the manifest, and widens float16 exactly', async () => {
    await withTempDir(async (dir) => {
      await cp(humanModelsDir(), dir, { recursive: true });
      const bin = join(dir, 'iris.bin');
      await writeFile(bin, (await readFile(bin)).subarray(0, 1000));
      await assert.rejects(readGraphModel(join(dir, 'iris.json')), /shards end inside/);
    });
    const halves = Uint16Array.from([0x3c00, 0xc000, 0x7bff, 0x0001, 0x0000, 0x3555]);
    assert.deepEqual(Array.from(widenFloat16(halves)), [
      1,
      -2,
      65504,
      2 ** -24,
      0,
      Math.fround(0.333251953125),
    ]);
  });
});
