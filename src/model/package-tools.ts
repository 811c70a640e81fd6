import { EMOTIONS } from '../contracts/emotions.js';
import {
  ABAW5_REFERENCE_SPEC,
  customFeatureSpec,
  ERI_FACE_AUDIO_SPEC,
  type FeatureSpec,
  KNOWN_FEATURE_SPECS,
} from '../contracts/feature-spec.js';
import { EriError } from '../errors.js';
import { randomWeights } from './init.js';
import { type ModelPackage, writeModelPackage } from './package.js';
import { type AttentionSplit, loadWeights, type ModelArchitecture, REFERENCE_ATTENTION } from './weights.js';

/** Makes model packages: from reference-named weights (`eri model import`) or at random (`eri model init`). */

export interface ImportOptions {
  name?: string;
  version?: string;
  description?: string;
  /** A known spec id; defaults to the reference's. */
  featureSpec?: string;
  attention?: AttentionSplit;
  trainingData?: string;
  licence?: string;
  optionalModalities?: ('video' | 'audio')[];
}

export function resolveFeatureSpec(id: string): FeatureSpec {
  const spec = KNOWN_FEATURE_SPECS[id];
  if (!spec) {
    throw new EriError(
      'ERI_ERR_INVALID_ARGUMENT',
      `unknown feature spec '${id}' (known: ${Object.keys(KNOWN_FEATURE_SPECS).join(', ')})`,
    );
  }
  return spec;
}

function modalities(optional: ImportOptions['optionalModalities']) {
  return {
    video: optional?.includes('video') ? ('optional' as const) : ('required' as const),
    audio: optional?.includes('audio') ? ('optional' as const) : ('required' as const),
  };
}

export async function importWeights(
  weightsPath: string,
  outDir: string,
  options: ImportOptions = {},
): Promise<ModelPackage> {
  const attention = options.attention ?? REFERENCE_ATTENTION;
  const weights = await loadWeights(weightsPath, { attention: { video: attention, audio: attention } });
  const spec = resolveFeatureSpec(options.featureSpec ?? ABAW5_REFERENCE_SPEC.id);
  return writeModelPackage(outDir, weights.tensors, weights.architecture, {
    name: options.name ?? 'imported-eri',
    version: options.version ?? '1.0.0',
    description: options.description ?? `ERI model imported from ${weightsPath}`,
    trained: true,
    emotions: [...EMOTIONS].slice(0, weights.architecture.outputs),
    featureSpec: spec,
    modalities: modalities(options.optionalModalities),
    training: { data: options.trainingData ?? 'unknown (imported weights)' },
    metrics: [],
    licence: options.licence ?? 'unknown: ask whoever trained these weights',
  });
}

export interface RandomInitOptions {
  name?: string;
  version?: string;
  seed?: number;
  /** Sizes for custom features; when both are absent the package uses the given spec or the extractor's. */
  videoDim?: number;
  audioDim?: number;
  featureSpec?: FeatureSpec;
  optionalModalities?: ('video' | 'audio')[];
}

/** The reference sizes for everything but the input widths. */
export function referenceArchitecture(videoDim: number, audioDim: number): ModelArchitecture {
  const branch = (inputDim: number) => ({
    inputDim,
    hidden: 256,
    gruLayers: 2,
    depth: 4,
    heads: REFERENCE_ATTENTION.heads,
    dimHead: REFERENCE_ATTENTION.dimHead,
    mlpDim: 256,
  });
  return { video: branch(videoDim), audio: branch(audioDim), headHidden: 256, outputs: EMOTIONS.length };
}

export async function initRandomPackage(
  outDir: string,
  options: RandomInitOptions = {},
): Promise<ModelPackage> {
  let spec = options.featureSpec ?? ERI_FACE_AUDIO_SPEC;
  if (options.videoDim !== undefined || options.audioDim !== undefined) {
    spec = customFeatureSpec(options.videoDim ?? spec.video.dim, options.audioDim ?? spec.audio.dim);
  }
  const seed = options.seed ?? 0;
  const arch = referenceArchitecture(spec.video.dim, spec.audio.dim);
  return writeModelPackage(outDir, randomWeights(arch, seed), arch, {
    name: options.name ?? 'eri-untrained',
    version: options.version ?? '0.0.0',
    description: `UNTRAINED: random weights (PyTorch default initialisation, seed ${seed}). Its outputs mean nothing; for tests and demos only.`,
    trained: false,
    emotions: [...EMOTIONS],
    featureSpec: spec,
    modalities: modalities(options.optionalModalities ?? ['video', 'audio']),
    training: { data: 'none (random initialisation)' },
    metrics: [],
    licence: 'MIT (random numbers)',
  });
}
