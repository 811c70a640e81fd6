import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { EMOTIONS } from '../contracts/emotions.js';
import { type FeatureSpec, featureSpecDifferences, featureSpecSchema } from '../contracts/feature-spec.js';
import { EriError } from '../errors.js';
import type { Float32Tensor } from './safetensors.js';
import { writeSafetensors } from './safetensors.js';
import {
  architectureDifferences,
  attentionOf,
  loadWeights,
  type ModelArchitecture,
  type ModelWeights,
} from './weights.js';

/**
 * A model package is a directory: `model.json` (the card) and `weights.safetensors` (reference names).
 * The card says what the weights are, what features they expect and how good they are; loading checks
 * the weights against it, so a package cannot silently claim one thing and hold another.
 */

export const MODEL_PACKAGE_FORMAT = 'eri-model-package/1';
export const CARD_FILE = 'model.json';
export const WEIGHTS_FILE = 'weights.safetensors';

const branchArchitectureSchema = z.object({
  inputDim: z.number().int().positive(),
  hidden: z.number().int().positive(),
  gruLayers: z.number().int().positive(),
  depth: z.number().int().positive(),
  heads: z.number().int().positive(),
  dimHead: z.number().int().positive(),
  mlpDim: z.number().int().positive(),
});

export const architectureSchema = z.object({
  video: branchArchitectureSchema,
  audio: branchArchitectureSchema,
  headHidden: z.number().int().positive(),
  outputs: z.number().int().positive(),
});

const metricSchema = z.object({
  name: z.string(),
  split: z.string(),
  value: z.number(),
  note: z.string().optional(),
});

export const modelCardSchema = z.object({
  format: z.literal(MODEL_PACKAGE_FORMAT),
  name: z
    .string()
    .min(1)
    .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, underscore and dash only'),
  version: z.string().min(1),
  description: z.string(),
  /** False for random weights: every consumer shows that loudly. */
  trained: z.boolean(),
  /**
   * True when the labels came from a teacher (eri_train teacher): the outputs are expression intensities
   * under the ERI names, not self-reported reaction intensities. Pages say "proxy model".
   */
  proxy: z.boolean().optional(),
  emotions: z.array(z.string()).min(1),
  architecture: architectureSchema,
  featureSpec: featureSpecSchema,
  /**
   * Which modalities may be absent. A missing modality's branch sees an empty sequence: its transformer
   * runs over the regression token alone (what the live pipeline does before that modality's first step).
   */
  modalities: z.object({
    video: z.enum(['required', 'optional']),
    audio: z.enum(['required', 'optional']),
  }),
  training: z.object({
    data: z.string(),
    recipe: z.string().optional(),
    /** Every training setting as used (eri_train writes them; the seed's are in its seed_recipe.json). */
    settings: z
      .record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.null(), z.array(z.string())]))
      .optional(),
  }),
  metrics: z.array(metricSchema),
  licence: z.string(),
  weights: z.object({ file: z.literal(WEIGHTS_FILE), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
  createdAt: z.string(),
});

export type ModelCard = z.infer<typeof modelCardSchema>;

export interface ModelPackage {
  readonly dir: string;
  readonly card: ModelCard;
  readonly weights: ModelWeights;
}

export interface LoadPackageOptions {
  /** The running extractor's spec: loading fails when the package expects another. */
  featureSpec?: FeatureSpec;
}

export async function readModelCard(dir: string): Promise<ModelCard> {
  const path = join(dir, CARD_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new EriError(
      'ERI_ERR_MODEL_PACKAGE',
      `${dir} is not a model package: cannot read ${CARD_FILE} (${(cause as Error).message})`,
      { cause },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new EriError('ERI_ERR_MODEL_PACKAGE', `${path} is not valid JSON`);
  }
  const parsed = modelCardSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new EriError(
      'ERI_ERR_MODEL_PACKAGE',
      `${path}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}

export async function loadModelPackage(dir: string, options: LoadPackageOptions = {}): Promise<ModelPackage> {
  const card = await readModelCard(dir);
  const weights = await loadWeights(join(dir, WEIGHTS_FILE), { attention: attentionOf(card.architecture) });
  const diffs = architectureDifferences(card.architecture, weights.architecture);
  if (diffs.length > 0) {
    throw new EriError(
      'ERI_ERR_MODEL_MISMATCH',
      `${dir}: the card (${CARD_FILE}) and the weights (${WEIGHTS_FILE}) disagree: card vs weights ${diffs.join('; ')}`,
    );
  }
  if (card.emotions.length !== weights.architecture.outputs) {
    throw new EriError(
      'ERI_ERR_MODEL_MISMATCH',
      `${dir}: the card names ${card.emotions.length} emotions but the head has ${weights.architecture.outputs} outputs`,
    );
  }
  for (const m of ['video', 'audio'] as const) {
    if (card.featureSpec[m].dim !== weights.architecture[m].inputDim) {
      throw new EriError(
        'ERI_ERR_MODEL_MISMATCH',
        `${dir}: feature spec '${card.featureSpec.id}' gives ${m} ${card.featureSpec[m].dim} features but the weights take ${weights.architecture[m].inputDim}`,
      );
    }
  }
  if (card.weights.sha256 !== weights.sha256) {
    throw new EriError(
      'ERI_ERR_MODEL_MISMATCH',
      `${dir}: ${WEIGHTS_FILE} has sha256 ${weights.sha256.slice(0, 12)}… but the card records ${card.weights.sha256.slice(0, 12)}…`,
    );
  }
  if (options.featureSpec) {
    const diffs = featureSpecDifferences(card.featureSpec, options.featureSpec);
    if (diffs.length > 0) {
      throw new EriError(
        'ERI_ERR_FEATURE_SPEC_MISMATCH',
        `model ${card.name}@${card.version} expects features '${card.featureSpec.id}' but the extractor produces ` +
          `'${options.featureSpec.id}' (${diffs.join('; ')})`,
      );
    }
  }
  return { dir, card, weights };
}

export type CardFields = Omit<ModelCard, 'format' | 'architecture' | 'weights' | 'createdAt'>;

/** Writes weights and card into `dir`, then re-loads it, so a package is only reported made once it loads. */
export async function writeModelPackage(
  dir: string,
  tensors: ReadonlyMap<string, Float32Tensor>,
  architecture: ModelArchitecture,
  fields: CardFields,
): Promise<ModelPackage> {
  await mkdir(dir, { recursive: true });
  const weightsPath = join(dir, WEIGHTS_FILE);
  await writeSafetensors(weightsPath, tensors, { format: 'pt', producer: 'eri-stream' });
  const weights = await loadWeights(weightsPath, { attention: attentionOf(architecture) });
  const card: ModelCard = modelCardSchema.parse({
    format: MODEL_PACKAGE_FORMAT,
    ...fields,
    architecture,
    weights: { file: WEIGHTS_FILE, sha256: weights.sha256 },
    createdAt: new Date().toISOString(),
  });
  const cardPath = join(dir, CARD_FILE);
  await writeFile(`${cardPath}.tmp`, `${JSON.stringify(card, null, 2)}\n`);
  await rename(`${cardPath}.tmp`, cardPath);
  return loadModelPackage(dir);
}

export const DEFAULT_EMOTIONS: readonly string[] = EMOTIONS;
