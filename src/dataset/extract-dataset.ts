import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { EMOTIONS } from '../contracts/emotions.js';
import { ERI_FACE_AUDIO_SPEC } from '../contracts/feature-spec.js';
import { EriError, isEriError } from '../errors.js';
import { extractFeatures } from '../features/extract.js';
import type { FeaturePool } from '../features/pool.js';
import { FEATURE_SPEC_METADATA_KEY, stackRows, writeFeaturesFile } from '../model/features-file.js';
import { SafetensorsFile } from '../model/safetensors.js';
import {
  CLIPS_DIR,
  type FailedClip,
  FEATURES_INDEX_FORMAT,
  type FeaturesIndex,
  type IndexedClip,
  writeFeaturesIndex,
} from './features-index.js';
import { type DatasetClip, readDataset } from './hume-dataset.js';

/**
 * `eri extract`: the server's own feature extractor over every clip of a dataset, several clips at once
 * on one shared worker pool. Each clip's features file is written whole (renamed into place) and records
 * which source it came from (size and mtime), so a rerun skips clips already done, redoes clips whose
 * video changed, and discards what an interrupted run left half-written.
 */

export const REPORT_FILE = 'extract-report.json';

export interface ExtractProgress {
  done: number;
  failed: number;
  total: number;
  steps: number;
  clip: string;
}

export interface ExtractDatasetOptions {
  /** Clips analysed at once (they share the pool); defaults to the pool's workers. */
  jobs?: number;
  onProgress?: (p: ExtractProgress) => void;
}

export interface ExtractReport {
  clips: number;
  reused: number;
  extracted: number;
  failed: FailedClip[];
  steps: number;
  elapsedS: number;
}

const SOURCE_SIZE = 'source_size';
const SOURCE_MTIME = 'source_mtime_ms';
const FACE_STEPS = 'face_steps';
const SPEECH_STEPS = 'speech_steps';

interface ClipFeaturesInfo {
  steps: number;
  faceSteps: number;
  speechSteps: number;
}

function indexed(clip: DatasetClip, info: ClipFeaturesInfo, bytes: Buffer): IndexedClip {
  return {
    id: clip.id,
    split: clip.split,
    labels: clip.labels,
    file: `${CLIPS_DIR}/${clip.id}.safetensors`,
    source: clip.source as string,
    steps: info.steps,
    coverage: {
      face: info.steps ? info.faceSteps / info.steps : 0,
      speech: info.steps ? info.speechSteps / info.steps : 0,
    },
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

/** The finished features of a clip if a previous run wrote them from the same source; else undefined. */
async function finishedFeatures(
  path: string,
  source: { size: number; mtimeMs: number },
  specId: string,
): Promise<{ info: ClipFeaturesInfo; bytes: Buffer } | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    return undefined;
  }
  try {
    const file = SafetensorsFile.parse(bytes, path);
    const m = file.metadata;
    if (
      m[FEATURE_SPEC_METADATA_KEY] !== specId ||
      m[SOURCE_SIZE] !== String(source.size) ||
      m[SOURCE_MTIME] !== String(Math.floor(source.mtimeMs))
    ) {
      return undefined;
    }
    const video = file.float32('video');
    const audio = file.float32('audio');
    if (video.shape[1] !== ERI_FACE_AUDIO_SPEC.video.dim || audio.shape[0] !== video.shape[0])
      return undefined;
    return {
      bytes,
      info: {
        steps: video.shape[0] as number,
        faceSteps: Number(m[FACE_STEPS]),
        speechSteps: Number(m[SPEECH_STEPS]),
      },
    };
  } catch {
    return undefined; // unreadable: extract it again
  }
}

async function extractClip(
  sourcePath: string,
  outPath: string,
  source: { size: number; mtimeMs: number },
  pool: FeaturePool,
  onStep: () => void,
): Promise<void> {
  const video: Float32Array[] = [];
  const audio: Float32Array[] = [];
  let faceSteps = 0;
  let speechSteps = 0;
  for await (const step of extractFeatures(sourcePath, pool, { inFlight: 2 })) {
    video.push(step.video);
    audio.push(step.audio);
    faceSteps += step.face.present ? 1 : 0;
    speechSteps += step.speech > 0.5 ? 1 : 0;
    onStep();
  }
  if (video.length === 0) throw new EriError('ERI_ERR_MEDIA_DECODE', `${sourcePath}: no analysis steps`);
  await writeFeaturesFile(
    outPath,
    {
      video: stackRows(video, ERI_FACE_AUDIO_SPEC.video.dim),
      audio: stackRows(audio, ERI_FACE_AUDIO_SPEC.audio.dim),
      featureSpecId: pool.spec.id,
    },
    {
      [SOURCE_SIZE]: String(source.size),
      [SOURCE_MTIME]: String(Math.floor(source.mtimeMs)),
      [FACE_STEPS]: String(faceSteps),
      [SPEECH_STEPS]: String(speechSteps),
    },
  );
}

/** Temporary files of an interrupted run (`<name>.<pid>.tmp`): never complete, always removed. */
async function removeLeftovers(clipsDir: string): Promise<void> {
  for (const name of await readdir(clipsDir)) {
    if (name.endsWith('.tmp')) await rm(join(clipsDir, name), { force: true });
  }
}

export async function extractDataset(
  datasetDir: string,
  outDir: string,
  pool: FeaturePool,
  options: ExtractDatasetOptions = {},
): Promise<{ index: FeaturesIndex; report: ExtractReport }> {
  const started = performance.now();
  const clips = await readDataset(datasetDir);
  const clipsDir = join(outDir, CLIPS_DIR);
  await mkdir(clipsDir, { recursive: true });
  await removeLeftovers(clipsDir);
  const results: (IndexedClip | FailedClip)[] = new Array(clips.length);
  const progress: ExtractProgress = { done: 0, failed: 0, total: clips.length, steps: 0, clip: '' };
  let reused = 0;
  let next = 0;

  const fail = (clip: DatasetClip, error: unknown): FailedClip => {
    progress.failed++;
    return {
      id: clip.id,
      split: clip.split,
      source: clip.source,
      code: isEriError(error) ? error.code : 'ERI_ERR_FEATURES',
      message: (error as Error).message,
    };
  };

  const one = async (clip: DatasetClip): Promise<IndexedClip | FailedClip> => {
    if (clip.source === null) {
      return fail(
        clip,
        new EriError('ERI_ERR_DATASET', `no video named ${clip.id}.<ext> under ${datasetDir}`),
      );
    }
    const sourcePath = join(datasetDir, clip.source);
    const outPath = join(outDir, CLIPS_DIR, `${clip.id}.safetensors`);
    try {
      const s = await stat(sourcePath);
      const source = { size: s.size, mtimeMs: s.mtimeMs };
      let done = await finishedFeatures(outPath, source, pool.spec.id);
      if (done) reused++;
      else {
        await extractClip(sourcePath, outPath, source, pool, () => progress.steps++);
        done = await finishedFeatures(outPath, source, pool.spec.id);
        if (!done) throw new EriError('ERI_ERR_FEATURES', `${outPath} did not read back after writing`);
      }
      return indexed(clip, done.info, done.bytes);
    } catch (error) {
      await rm(outPath, { force: true });
      return fail(clip, error);
    }
  };

  const jobs = Math.max(1, options.jobs ?? pool.workers);
  await Promise.all(
    Array.from({ length: Math.min(jobs, clips.length) }, async () => {
      while (next < clips.length) {
        const i = next++;
        const clip = clips[i] as DatasetClip;
        results[i] = await one(clip);
        progress.done++;
        progress.clip = clip.id;
        options.onProgress?.({ ...progress });
      }
    }),
  );

  const isFailed = (r: IndexedClip | FailedClip): r is FailedClip => 'code' in r;
  const index: FeaturesIndex = {
    format: FEATURES_INDEX_FORMAT,
    featureSpec: pool.spec,
    emotions: [...EMOTIONS],
    clips: results.filter((r) => !isFailed(r)) as IndexedClip[],
    failed: results.filter(isFailed),
  };
  await writeFeaturesIndex(outDir, index);
  const report: ExtractReport = {
    clips: clips.length,
    reused,
    extracted: index.clips.length - reused,
    failed: index.failed,
    steps: progress.steps,
    elapsedS: (performance.now() - started) / 1000,
  };
  return { index, report };
}
