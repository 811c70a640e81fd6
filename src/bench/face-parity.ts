import { blockOffset, ERI_FACE_AUDIO_SPEC } from '../contracts/feature-spec.js';
import { DEFAULT_ANALYSIS_SIZE } from '../contracts/media-step.js';
import { decodeMedia } from '../features/decode.js';
import { createFaceAnalyzer } from '../features/face/face-backend.js';
import type {
  FaceAnalyzerBackend,
  FaceAnalyzerOptions,
  FaceCandidateFeatures,
} from '../features/face/face-vector.js';
import {
  afterFrame,
  chooseFace,
  DEFAULT_DETECT_EVERY,
  facesToFollow,
  initialTrackingState,
} from '../features/face/track.js';

/**
 * Two face backends (or settings) on the same frames of real clips, each tracking faces as a session
 * does, compared the way the feature spec's stability is judged (docs/features.md): the mesh points'
 * error in pixels at the analysis size, the embedding's cosine, each action unit's correlation over the
 * frames, and how often they agree on whether there is a face.
 */

export interface ParityResult {
  frames: number;
  /** Frames where both found a face. */
  bothFace: number;
  faceFlagAgreement: number;
  meshErrorPx: { median: number; p95: number };
  embeddingCosine: { min: number; median: number };
  /** Pearson r per action unit over the frames where both found a face. */
  actionUnitR: { min: number; median: number; perUnit: number[] };
  /** Seconds each side took (in-thread, one core). */
  seconds: { a: number; b: number };
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length ? (s[Math.min(s.length - 1, Math.floor(q * s.length))] as number) : Number.NaN;
};

export function pearson(a: readonly number[], b: readonly number[]): number {
  const n = a.length;
  const ma = a.reduce((s, x) => s + x, 0) / n;
  const mb = b.reduce((s, x) => s + x, 0) / n;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < n; i++) {
    ab += ((a[i] as number) - ma) * ((b[i] as number) - mb);
    aa += ((a[i] as number) - ma) ** 2;
    bb += ((b[i] as number) - mb) ** 2;
  }
  // Two constant series agree perfectly.
  if (aa === 0 && bb === 0) return 1;
  return ab / Math.sqrt(aa * bb);
}

/** Cosine similarity of the first n values. */
export function cosine(a: Float32Array, b: Float32Array, n: number): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < n; i++) {
    ab += (a[i] as number) * (b[i] as number);
    aa += (a[i] as number) ** 2;
    bb += (b[i] as number) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

/** The face a session would follow in each frame, as the featurizer picks it. */
async function followedFaces(
  analyzer: FaceAnalyzerBackend,
  frames: readonly Uint8Array[],
  detectEvery: number,
): Promise<{ faces: (FaceCandidateFeatures | undefined)[]; seconds: number }> {
  const { width, height } = DEFAULT_ANALYSIS_SIZE;
  let tracking = initialTrackingState();
  let previous: FaceCandidateFeatures['box'] | undefined;
  const out: (FaceCandidateFeatures | undefined)[] = [];
  const t0 = performance.now();
  for (const frame of frames) {
    const r = await analyzer.analyze(frame, width, height, facesToFollow(tracking, detectEvery));
    tracking = afterFrame(tracking, { detector: r.timings.detector, faces: r.faces }, analyzer.minBoxScore);
    const candidates = r.faces.filter((f) => f.boxScore >= analyzer.minBoxScore);
    const chosen = candidates[chooseFace(candidates, previous)];
    if (chosen) previous = chosen.box;
    out.push(chosen);
  }
  return { faces: out, seconds: (performance.now() - t0) / 1000 };
}

export async function decodeFrames(clip: string, limit = Number.POSITIVE_INFINITY): Promise<Uint8Array[]> {
  const frames: Uint8Array[] = [];
  for await (const s of decodeMedia(clip, {
    rateHz: ERI_FACE_AUDIO_SPEC.rateHz ?? 10,
    ...DEFAULT_ANALYSIS_SIZE,
  })) {
    if (s.frame) frames.push(s.frame);
    if (frames.length >= limit) break;
  }
  return frames;
}

export async function compareFaceBackends(
  frames: readonly Uint8Array[],
  a: FaceAnalyzerOptions,
  b: FaceAnalyzerOptions,
  detectEvery = DEFAULT_DETECT_EVERY,
): Promise<ParityResult> {
  const [analyzerA, analyzerB] = [await createFaceAnalyzer(a), await createFaceAnalyzer(b)];
  try {
    const ra = await followedFaces(analyzerA, frames, detectEvery);
    const rb = await followedFaces(analyzerB, frames, detectEvery);
    const spec = ERI_FACE_AUDIO_SPEC.video;
    const au = blockOffset(spec, 'action_units');
    const units = (spec.layout.find((l) => l.name === 'action_units')?.size ?? 0) as number;
    const embedding = spec.layout[0]?.size ?? 256;
    let agree = 0;
    const meshErrors: number[] = [];
    const cosines: number[] = [];
    const auA: number[][] = Array.from({ length: units }, () => []);
    const auB: number[][] = Array.from({ length: units }, () => []);
    ra.faces.forEach((fa, i) => {
      const fb = rb.faces[i];
      if (Boolean(fa) === Boolean(fb)) agree++;
      if (!fa || !fb) return;
      const ma = fa.mesh ?? [];
      const mb = fb.mesh ?? [];
      const n = Math.min(ma.length, mb.length);
      const errors: number[] = [];
      for (let k = 0; k < n; k++) {
        const p = ma[k] as readonly number[];
        const q = mb[k] as readonly number[];
        errors.push(Math.hypot((p[0] as number) - (q[0] as number), (p[1] as number) - (q[1] as number)));
      }
      meshErrors.push(quantile(errors, 0.5));
      cosines.push(cosine(fa.vector, fb.vector, embedding));
      for (let u = 0; u < units; u++) {
        (auA[u] as number[]).push(fa.vector[au + u] as number);
        (auB[u] as number[]).push(fb.vector[au + u] as number);
      }
    });
    const perUnit = auA.map((x, u) => (x.length > 2 ? pearson(x, auB[u] as number[]) : Number.NaN));
    return {
      frames: frames.length,
      bothFace: cosines.length,
      faceFlagAgreement: frames.length ? agree / frames.length : 1,
      meshErrorPx: { median: quantile(meshErrors, 0.5), p95: quantile(meshErrors, 0.95) },
      embeddingCosine: { min: Math.min(...cosines), median: quantile(cosines, 0.5) },
      actionUnitR: { min: Math.min(...perUnit), median: quantile(perUnit, 0.5), perUnit },
      seconds: { a: ra.seconds, b: rb.seconds },
    };
  } finally {
    await analyzerA.close?.();
    await analyzerB.close?.();
  }
}
