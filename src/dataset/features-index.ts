import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { featureSpecSchema } from '../contracts/feature-spec.js';
import { EriError } from '../errors.js';

/**
 * The index of an extracted feature set (`eri extract`): which clip is where, its split and labels, and
 * what the extractor saw. It holds nothing that depends on when or how fast extraction ran, so an
 * interrupted and resumed run writes the same index as an uninterrupted one. The PyTorch trainer
 * (models/training/eri_train/data.py) reads the same file.
 */

export const FEATURES_INDEX_FORMAT = 'eri-features-index/1';
export const INDEX_FILE = 'index.json';
export const CLIPS_DIR = 'clips';

export const indexedClipSchema = z.object({
  id: z.string(),
  split: z.string(),
  labels: z.array(z.number()).nullable(),
  /** The features file, relative to the feature set's folder. */
  file: z.string(),
  /** The video, relative to the dataset folder. */
  source: z.string(),
  steps: z.number().int().nonnegative(),
  coverage: z.object({ face: z.number(), speech: z.number() }),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

export const failedClipSchema = z.object({
  id: z.string(),
  split: z.string(),
  source: z.string().nullable(),
  code: z.string(),
  message: z.string(),
});

export const featuresIndexSchema = z.object({
  format: z.literal(FEATURES_INDEX_FORMAT),
  featureSpec: featureSpecSchema,
  emotions: z.array(z.string()),
  clips: z.array(indexedClipSchema),
  failed: z.array(failedClipSchema),
});

export type IndexedClip = z.infer<typeof indexedClipSchema>;
export type FailedClip = z.infer<typeof failedClipSchema>;
export type FeaturesIndex = z.infer<typeof featuresIndexSchema>;

export async function readFeaturesIndex(dir: string): Promise<FeaturesIndex> {
  const path = join(dir, INDEX_FILE);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new EriError(
      'ERI_ERR_DATASET',
      `${dir} is not an extracted feature set: cannot read ${INDEX_FILE} (${(cause as Error).message})`,
      { cause },
    );
  }
  const parsed = featuresIndexSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new EriError(
      'ERI_ERR_DATASET',
      `${path}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}

export async function writeFeaturesIndex(dir: string, index: FeaturesIndex): Promise<void> {
  const path = join(dir, INDEX_FILE);
  await writeFile(`${path}.partial`, `${JSON.stringify(featuresIndexSchema.parse(index), null, 1)}\n`);
  await rename(`${path}.partial`, path);
}

/** Clips of a split, case-insensitively (Hume-Reaction writes Train/Val/Test); every clip without one. */
export function clipsOfSplit(index: FeaturesIndex, split: string | undefined): IndexedClip[] {
  return split ? index.clips.filter((c) => c.split.toLowerCase() === split.toLowerCase()) : index.clips;
}
