import { type FeatureSpec, faceAudioSpec } from '../contracts/feature-spec.js';
import type { AudioFeaturizer, AudioState } from './audio/audio-features.js';
import type {
  FaceAnalyzerBackend,
  FaceAnalyzerOptions,
  FaceCandidateFeatures,
  FaceTimings,
} from './face/face-vector.js';
import type { FaceTrackingOptions, TrackedFace } from './face/track.js';
import type { FrameBuffers } from './frame-buffers.js';

/**
 * What a session's featurizer needs from whatever runs the networks: the server's worker pool, or the
 * analyzers in the same thread (a viewer's browser in edge mode, the parity checks). One interface, so
 * the step logic (tracking, ordering, assembly) is the same code wherever features are made.
 */

export interface FeatureWorkerOptions {
  face?: FaceAnalyzerOptions;
  /** Read by each session's featurizer, not by the workers. */
  tracking?: FaceTrackingOptions;
}

export interface FaceResult {
  faces: FaceCandidateFeatures[];
  timings: FaceTimings;
  totalMs: number;
}

export interface AudioResult {
  vector: Float32Array;
  state: AudioState;
  speech: number;
  totalMs: number;
}

export interface FeatureAnalysis {
  readonly spec: FeatureSpec;
  readonly options: FeatureWorkerOptions;
  /** Where frames' buffers go back to be refilled by the decoders, frames not analysed among them. */
  readonly frameBuffers?: FrameBuffers;
  face(rgb: Uint8Array, width: number, height: number, follow?: readonly TrackedFace[]): Promise<FaceResult>;
  audio(samples: Float32Array, coverage: number, state: AudioState): Promise<AudioResult>;
}

/** One frame's face candidates, timed; the meshes stay with the caller (they are not features). */
export async function analyzeFace(
  analyzer: FaceAnalyzerBackend,
  rgb: Uint8Array,
  width: number,
  height: number,
  follow: readonly TrackedFace[],
): Promise<FaceResult> {
  const t0 = performance.now();
  const { faces, timings } = await analyzer.analyze(rgb, width, height, follow);
  return { faces: faces.map(({ mesh: _mesh, ...face }) => face), timings, totalMs: performance.now() - t0 };
}

/** One step's audio features, timed. */
export async function analyzeAudio(
  featurizer: AudioFeaturizer,
  samples: Float32Array,
  coverage: number,
  state: AudioState,
): Promise<AudioResult> {
  const t0 = performance.now();
  const result = await featurizer.step(samples, coverage, state);
  return { ...result, totalMs: performance.now() - t0 };
}

/** The analyzers run in the caller's thread, one task at a time as they come. */
export class InThreadAnalysis implements FeatureAnalysis {
  readonly options: FeatureWorkerOptions;
  readonly #face: FaceAnalyzerBackend;
  readonly #audio: AudioFeaturizer;

  constructor(face: FaceAnalyzerBackend, audio: AudioFeaturizer, options: FeatureWorkerOptions = {}) {
    this.#face = face;
    this.#audio = audio;
    this.options = options;
  }

  get spec(): FeatureSpec {
    return faceAudioSpec(this.options.face);
  }

  face(rgb: Uint8Array, width: number, height: number, follow: readonly TrackedFace[] = []) {
    return analyzeFace(this.#face, rgb, width, height, follow);
  }

  audio(samples: Float32Array, coverage: number, state: AudioState): Promise<AudioResult> {
    return analyzeAudio(this.#audio, samples, coverage, state);
  }
}
