import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import * as tf from '@tensorflow/tfjs-core';
import { graphModelJsonSchema } from './graph-model.js';

/**
 * A TensorFlow.js graph model run by tfjs itself on the WebAssembly backend: the reference each converted
 * graph is compared against (tests, `eri bench features`). Not on any serving path.
 */

const require = createRequire(import.meta.url);
let backend: Promise<void> | undefined;

function wasmBackend(): Promise<void> {
  backend ??= (async () => {
    setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}/`);
    await tf.setBackend('wasm');
    await tf.ready();
  })();
  return backend;
}

export interface ReferenceModel {
  /** Runs the graph on an NHWC input; returns the named nodes' values. */
  run(input: Float32Array, dims: number[], outputs: readonly string[]): Float32Array[];
  dispose(): void;
}

export async function loadReferenceModel(jsonPath: string): Promise<ReferenceModel> {
  await wasmBackend();
  const json = graphModelJsonSchema.passthrough().parse(JSON.parse(await readFile(jsonPath, 'utf8')));
  const shards = await Promise.all(
    json.weightsManifest.flatMap((g) => g.paths).map((p) => readFile(join(dirname(jsonPath), p))),
  );
  const bytes = Buffer.concat(shards);
  const model = await loadGraphModel({
    load: async () => ({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights) as never,
      weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
      format: json.format,
    }),
  });
  return {
    run(input, dims, outputs) {
      return tf.tidy(() => {
        const result = model.execute(tf.tensor(input, dims), [...outputs]);
        return (Array.isArray(result) ? result : [result]).map((t) => t.dataSync() as Float32Array);
      });
    },
    dispose: () => model.dispose(),
  };
}
