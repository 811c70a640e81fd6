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
import { buildCropGraph } from './crop-graphs.js';
import {
  CROP_GRAPH_IDS,
  type CropGraphId,
  EMBEDDING_NODE,
  FACE_INPUT_SIZES,
  type FaceGraphId,
  type FaceNetworkId,
  type FaceSessions,
  PROBS_NODE,
} from './face-graphs.js';

/**
 * The four face networks that ship in @vladmandic/human, converted to ONNX on first use and cached under
 * `<cache>/face-onnx/`, keyed by the source files' hash and the converter's version (a new package
 * version or a new converter never reuses a stale graph), plus the crop graphs that feed them.
 */

const SOURCES: Record<FaceNetworkId, { file: string; outputs?: string[] }> = {
  detector: { file: 'blazeface.json' },
  mesh: { file: 'facemesh.json' },
  iris: { file: 'iris.json' },
  expression: { file: 'emotion.json', outputs: [EMBEDDING_NODE, PROBS_NODE] },
};

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

/** Any graph of the face stage as ONNX bytes: a network converted (or cached), a crop graph built. */
export async function faceGraphBytes(
  id: FaceGraphId,
  options: { cacheRoot?: string } = {},
): Promise<Uint8Array> {
  return (CROP_GRAPH_IDS as readonly string[]).includes(id)
    ? buildCropGraph(id as CropGraphId, FACE_INPUT_SIZES)
    : (await convertedNetwork(id as FaceNetworkId, options)).bytes;
}

/** Every session the face stage runs, with one intra-op thread each (workers are the parallelism). */
export async function loadFaceSessions(options: FaceNetworkOptions = {}): Promise<FaceSessions> {
  const providers = options.executionProviders ?? ['cpu'];
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionProviders: providers,
    graphOptimizationLevel: 'all',
  };
  const open = async (id: FaceGraphId) => {
    const bytes = await faceGraphBytes(id, options);
    try {
      return await ort.InferenceSession.create(bytes, sessionOptions);
    } catch (cause) {
      throw new EriError(
        'ERI_ERR_FEATURES',
        `cannot open the ${id} graph on ${providers.join(', ')}: ${(cause as Error).message}`,
        { cause },
      );
    }
  };
  const [detector, mesh, iris, expression] = await Promise.all([
    open('detector'),
    open('mesh'),
    options.iris === false ? Promise.resolve(undefined) : open('iris'),
    open('expression'),
  ]);
  return {
    detector,
    mesh,
    iris,
    expression,
    detectorInput: await open('detectorInput'),
    meshCrop: await open('meshCrop'),
    expressionCrop: await open('expressionCrop'),
    eyeCrops: await open('eyeCrops'),
  };
}
