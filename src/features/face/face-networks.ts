import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { EriError } from '../../errors.js';
import { CONVERTER_VERSION, convertGraphModel } from '../../onnx/tfjs/convert.js';
import { readGraphModel } from '../../onnx/tfjs/graph-model.js';
import { eriCacheRoot } from '../../util/cache-dir.js';
import { packageDir } from '../../util/package-dir.js';
import { buildCropGraph, type CropGraphId, type CropSizes } from './crop-graphs.js';

/**
 * The four face networks that ship in @vladmandic/human, converted to ONNX on first use and cached under
 * `<cache>/face-onnx/`, keyed by the source files' hash and the converter's version (a new package
 * version or a new converter never reuses a stale graph), plus the crop graphs that feed them.
 */

export type FaceNetworkId = 'detector' | 'mesh' | 'iris' | 'expression';

/** The expression net's last residual block, global-average-pooled into the holistic embedding. */
export const EMBEDDING_NODE = 'StatefulPartitionedCall/model_1/add_2/add';
export const PROBS_NODE = 'Identity';

const SOURCES: Record<FaceNetworkId, { file: string; outputs?: string[] }> = {
  detector: { file: 'blazeface.json' },
  mesh: { file: 'facemesh.json' },
  iris: { file: 'iris.json' },
  expression: { file: 'emotion.json', outputs: [EMBEDDING_NODE, PROBS_NODE] },
};

export const FACE_INPUT_SIZES: CropSizes = { detector: 256, mesh: 192, iris: 64, expression: 64 };

/** The folder of the networks inside Human's npm package. */
export function humanModelsDir(): string {
  return join(packageDir('@vladmandic/human'), 'models');
}

/** The converted graph of one network, from the cache or converted now. */
export async function convertedNetwork(
  id: FaceNetworkId,
  options: { cacheRoot?: string; modelsDir?: string } = {},
): Promise<{ path: string; bytes: Uint8Array }> {
  const source = SOURCES[id];
  const model = await readGraphModel(join(options.modelsDir ?? humanModelsDir(), source.file));
  const key = createHash('sha256')
    .update(`converter ${CONVERTER_VERSION}\n${model.sha256}\n${JSON.stringify(source.outputs ?? null)}`)
    .digest('hex')
    .slice(0, 24);
  const dir = join(options.cacheRoot ?? eriCacheRoot(), 'face-onnx');
  const path = join(dir, `${model.name}-${key}.onnx`);
  const cached = await readFile(path).catch(() => undefined);
  if (cached && cached.length > 0) return { path, bytes: cached };
  const bytes = convertGraphModel(model, source.outputs ? { outputs: source.outputs } : {});
  await mkdir(dir, { recursive: true });
  const tmp = `${path}.${process.pid}.${threadId}.tmp`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
  return { path, bytes };
}

export interface FaceNetworkOptions {
  cacheRoot?: string;
  /** onnxruntime execution providers, in order of preference (default: the CPU). */
  executionProviders?: string[];
  /** Load the iris net (it is skipped when the face stage runs without it). */
  iris?: boolean;
}

export type Sessions = Record<FaceNetworkId, ort.InferenceSession | undefined> &
  Record<CropGraphId, ort.InferenceSession>;

/** Every session the face stage runs, with one intra-op thread each (workers are the parallelism). */
export async function loadFaceSessions(options: FaceNetworkOptions = {}): Promise<Sessions> {
  const providers = options.executionProviders ?? ['cpu'];
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionProviders: providers,
    graphOptimizationLevel: 'all',
  };
  const open = async (what: string, bytes: Uint8Array) => {
    try {
      return await ort.InferenceSession.create(bytes, sessionOptions);
    } catch (cause) {
      throw new EriError(
        'ERI_ERR_FEATURES',
        `cannot open the ${what} graph on ${providers.join(', ')}: ${(cause as Error).message}`,
        { cause },
      );
    }
  };
  const net = async (id: FaceNetworkId) => open(id, (await convertedNetwork(id, options)).bytes);
  const crop = (id: CropGraphId) => open(id, buildCropGraph(id, FACE_INPUT_SIZES));
  const [detector, mesh, iris, expression] = await Promise.all([
    net('detector'),
    net('mesh'),
    options.iris === false ? Promise.resolve(undefined) : net('iris'),
    net('expression'),
  ]);
  return {
    detector,
    mesh,
    iris,
    expression,
    detectorInput: await crop('detectorInput'),
    meshCrop: await crop('meshCrop'),
    expressionCrop: await crop('expressionCrop'),
    eyeCrops: await crop('eyeCrops'),
  };
}
