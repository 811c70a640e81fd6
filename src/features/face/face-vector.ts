import { ACTION_UNITS, ERI_FACE_AUDIO_SPEC } from '../../contracts/feature-spec.js';
import { actionUnits, type Point3 } from './action-units.js';
import { browHeights } from './brow-profile.js';
import type { Box, TrackedFace } from './track.js';

/**
 * What both face backends (onnxruntime, the default, and tfjs through Human, the reference) share: the
 * analyzer's interface, its settings, and the assembly of one face's feature vector from the mesh, the
 * expression net's outputs and the frame, so the two cannot drift apart.
 */

export type FaceBackendKind = 'onnx' | 'tfjs';

export interface FaceAnalyzerOptions {
  /** onnx (default): the networks converted to ONNX on onnxruntime; tfjs: Human on TensorFlow.js. */
  backend?: FaceBackendKind;
  /** Faces detected per frame (the session follows one; the others let it keep the same one). */
  maxFaces?: number;
  /** Detector box confidence under which a detection is not a face (see docs/features.md). */
  minBoxScore?: number;
  /** Refine the eyes with the iris model (478 points instead of 468). */
  iris?: boolean;
  /** false runs the detector alone (no faces come out): only for measuring the detector's cost. */
  mesh?: boolean;
  /** onnx backend: onnxruntime execution providers in order of preference (default: cpu). */
  executionProviders?: string[];
  /** onnx backend: the most crops one network call takes (across sessions). */
  maxBatch?: number;
  /** onnx backend: where converted graphs are cached (default: the eri-stream cache). */
  cacheRoot?: string;
}

export interface FaceCandidateFeatures {
  box: Box;
  boxScore: number;
  faceScore: number;
  /** The full video feature vector for this face, face flag set. */
  vector: Float32Array;
  /** The mesh in frame pixels (for comparing backends; not sent anywhere). */
  mesh?: readonly Point3[];
}

export interface FaceTimings {
  /** Whether the face detector ran (false: the faces came from the carried tracks). */
  detector: boolean;
  /** Detector (when it ran) + mesh + iris. */
  detectMs: number;
  embeddingMs: number;
  localMs: number;
}

export interface FaceAnalysis {
  faces: FaceCandidateFeatures[];
  timings: FaceTimings;
}

/** A face backend: one per worker thread, shared by every session the worker serves. */
export interface FaceAnalyzerBackend {
  readonly backend: string;
  readonly minBoxScore: number;
  /**
   * Every face in an RGB24 frame with its feature vector. With `follow`, faces are looked for where the
   * previous frame's mesh left them, without the detector; if none is found there, the detector runs on
   * this frame after all.
   */
  analyze(
    rgb: Uint8Array,
    width: number,
    height: number,
    follow?: readonly TrackedFace[],
  ): Promise<FaceAnalysis>;
  close?(): Promise<void>;
}

/**
 * The tracking rule both backends follow: look for the faces where the previous frame's mesh left them;
 * if none is found there, run the detector on this frame after all (its time includes the failed try).
 */
export async function followOrDetect(
  follow: readonly TrackedFace[],
  analyze: (follow: readonly TrackedFace[]) => Promise<FaceAnalysis>,
): Promise<FaceAnalysis> {
  if (follow.length === 0) return analyze([]);
  const tracked = await analyze(follow);
  if (tracked.faces.length > 0) return tracked;
  const detected = await analyze([]);
  detected.timings.detectMs += tracked.timings.detectMs;
  return detected;
}

export const DEFAULT_MIN_BOX_SCORE = 0.66;

/** Human's enlargement of the detector's box before the mesh. */
export const DETECTOR_SCALE = 1.4;
/** Human's enlargement of the eye corners' box before the iris net. */
export const IRIS_SCALE = 2.3;
/** Human's detector confidence floor (and NMS overlap), before the project's own box-score threshold. */
export const DETECTOR_MIN_CONFIDENCE = 0.2;
export const DETECTOR_IOU = 0.1;

/**
 * Mesh confidence under which a followed face counts as lost (the detector then runs on the same
 * frame). A crop that has drifted off the face scores low on the mesh, while real faces score above 0.9.
 */
export const TRACKED_MIN_FACE_SCORE = 0.5;

/**
 * Half the expression crop's side over the mesh's RMS radius: 2.58 gives on average the framing of
 * Human's own face crop (1.45-1.57 times the mesh's extent on real clips).
 */
const EXPRESSION_CROP = 2.58;

/**
 * The expression crop [x1, y1, x2, y2] in pixels, framed by the mesh alone, not by the box the mesh ran
 * in: that box is the detector's on some frames and the tracked one on others, and the expression net is
 * sensitive enough to framing that the two would differ systematically. The centroid and RMS radius
 * frame it more steadily than the extremes (embedding cosine between frames 0.95 vs 0.93).
 */
export function expressionCorners(mesh: readonly Point3[]): [number, number, number, number] {
  let [cx, cy] = [0, 0];
  for (const [x, y] of mesh) {
    cx += x / mesh.length;
    cy += y / mesh.length;
  }
  let spread = 0;
  for (const [x, y] of mesh) spread += ((x - cx) ** 2 + (y - cy) ** 2) / mesh.length;
  const half = EXPRESSION_CROP * Math.sqrt(spread);
  return [cx - half, cy - half, cx + half, cy + half];
}

/** Global average pooling of an NHWC [1, h, w, c] activation into c values. */
export function averagePool(nhwc: Float32Array, channels: number): Float32Array {
  const out = new Float32Array(channels);
  const positions = nhwc.length / channels;
  for (let p = 0; p < positions; p++)
    for (let c = 0; c < channels; c++) (out[c] as number) += nhwc[p * channels + c] as number;
  for (let c = 0; c < channels; c++) (out[c] as number) /= positions;
  return out;
}

export interface FaceParts {
  mesh: readonly Point3[];
  angle: { yaw: number; pitch: number; roll: number };
  boxScore: number;
  embedding: Float32Array;
  probs: Float32Array;
}

/** One face's video feature vector (layout: the spec's video blocks, face flag set). */
export function faceVector(parts: FaceParts, rgb: Uint8Array, width: number, height: number): Float32Array {
  const vector = new Float32Array(ERI_FACE_AUDIO_SPEC.video.dim);
  let at = 0;
  vector.set(parts.embedding, at);
  at += parts.embedding.length;
  vector.set(parts.probs, at);
  at += parts.probs.length;
  vector.set(actionUnits(parts.mesh, browHeights(rgb, width, height, parts.mesh)), at);
  at += ACTION_UNITS.length;
  vector.set([parts.angle.yaw, parts.angle.pitch, parts.angle.roll], at);
  at += 3;
  vector.set([1, parts.boxScore], at);
  return vector;
}
