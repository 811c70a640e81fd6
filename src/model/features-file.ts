import { EriError } from '../errors.js';
import type { ClipFeatures } from './model.js';
import { type Float32Tensor, SafetensorsFile, writeSafetensors } from './safetensors.js';

/**
 * The features file: safetensors with `video` [T, Dv] and `audio` [A, Da] float32, plus the feature spec
 * id in the metadata when known. `eri analyze --features` writes it; `eri predict-features` reads it; so
 * do researchers who extract features elsewhere.
 */

export const FEATURE_SPEC_METADATA_KEY = 'feature_spec';

export interface FeaturesFile extends ClipFeatures {
  /** The spec id recorded in the file, if any. */
  featureSpecId?: string;
}

function matrix(file: SafetensorsFile, name: 'video' | 'audio'): Float32Tensor | undefined {
  if (!file.has(name)) return undefined;
  const tensor = file.float32(name);
  if (tensor.shape.length !== 2) {
    throw new EriError(
      'ERI_ERR_TENSOR_SHAPE',
      `'${name}' in ${file.source} has shape ${JSON.stringify(tensor.shape)}; expected [steps, features]`,
    );
  }
  return tensor;
}

export async function readFeaturesFile(path: string): Promise<FeaturesFile> {
  const file = await SafetensorsFile.read(path);
  const video = matrix(file, 'video');
  const audio = matrix(file, 'audio');
  if (!video && !audio) {
    throw new EriError(
      'ERI_ERR_TENSOR_MISSING',
      `${path} holds neither 'video' nor 'audio' (found: ${file.names.join(', ') || 'no tensors'})`,
    );
  }
  const specId = file.metadata[FEATURE_SPEC_METADATA_KEY];
  return {
    ...(video ? { video } : {}),
    ...(audio ? { audio } : {}),
    ...(specId ? { featureSpecId: specId } : {}),
  };
}

/** Written to a temporary file and renamed into place, so a reader never sees half a file. */
export async function writeFeaturesFile(
  path: string,
  features: FeaturesFile,
  extraMetadata: Record<string, string> = {},
): Promise<void> {
  const tensors = new Map<string, Float32Tensor>();
  if (features.video) tensors.set('video', features.video);
  if (features.audio) tensors.set('audio', features.audio);
  const metadata = {
    ...extraMetadata,
    ...(features.featureSpecId ? { [FEATURE_SPEC_METADATA_KEY]: features.featureSpecId } : {}),
  };
  await writeSafetensors(path, tensors, Object.keys(metadata).length > 0 ? metadata : undefined);
}

/** Stacks per-step rows into a [steps, dim] tensor. */
export function stackRows(rows: readonly Float32Array[], dim: number): Float32Tensor {
  const data = new Float32Array(rows.length * dim);
  for (const [i, r] of rows.entries()) data.set(r, i * dim);
  return { shape: [rows.length, dim], data };
}
