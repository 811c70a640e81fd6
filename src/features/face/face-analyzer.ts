import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ACTION_UNITS, ERI_FACE_AUDIO_SPEC } from '../../contracts/feature-spec.js';
import { EriError } from '../../errors.js';
import { actionUnits, MESH_POINTS, type Point3 } from './action-units.js';
import { browHeights } from './brow-profile.js';
import { SeededDetector } from './seeded-detector.js';
import type { Box, TrackedFace } from './track.js';

/**
 * Face features with @vladmandic/human, whose models ship inside its npm package: the blazeface
 * detector, the 468-point face mesh (+10 iris points = 478), and the mini-Xception expression network,
 * whose global-average-pooled features are the holistic embedding. Runs on tfjs-node(-gpu) when one is
 * installed, else on the WebAssembly backend, which needs nothing beyond npm.
 *
 * Human's own frame-skipping caches are module-global and driven by the wall clock, so they would mix
 * sessions that share a worker and make offline and live features differ; they are turned off. Instead
 * the caller carries each session's tracked faces (track.ts) and passes them in: the face detector
 * (half of a step's cost) is then not run, and Human's mesh stage starts from the carried boxes, exactly
 * as its own tracking would, but with the state in the session and the schedule in media steps.
 */

const require = createRequire(import.meta.url);

/** The subset of Human's API used here. */
interface TensorLike {
  shape: number[];
  data(): Promise<Float32Array | Int32Array | Uint8Array>;
}
interface Tf {
  tensor3d(values: Int32Array, shape: [number, number, number], dtype: 'int32'): TensorLike;
  image: {
    resizeBilinear(x: TensorLike, size: [number, number], alignCorners?: boolean): TensorLike;
    cropAndResize(x: TensorLike, boxes: number[][], index: number[], size: [number, number]): TensorLike;
  };
  div(a: TensorLike, b: number): TensorLike;
  mul(a: TensorLike, b: TensorLike | number): TensorLike;
  sub(a: TensorLike, b: TensorLike | number): TensorLike;
  sum(a: TensorLike, axis: number, keepDims: boolean): TensorLike;
  tensor1d(values: number[]): TensorLike;
  tensor3d(values: Float32Array, shape: [number, number, number]): TensorLike;
  zeros(shape: number[]): TensorLike;
  expandDims(x: TensorLike, axis: number): TensorLike;
  mean(x: TensorLike, axes: number[]): TensorLike;
  dispose(x: TensorLike | TensorLike[] | undefined): void;
  getBackend(): string;
  memory(): { numTensors: number };
}
interface GraphModel {
  execute(x: TensorLike, outputs?: string[]): TensorLike | TensorLike[];
  inputs: { shape?: number[] }[];
}
interface HumanFace {
  box: [number, number, number, number];
  boxRaw: [number, number, number, number];
  boxScore: number;
  faceScore: number;
  mesh: Point3[];
  rotation?: { angle: { yaw: number; pitch: number; roll: number } };
}
interface Human {
  tf: Tf;
  load(): Promise<void>;
  warmup(): Promise<unknown>;
  detect(input: TensorLike): Promise<{ face: HumanFace[]; error?: string | null }>;
  models: { models: Record<string, GraphModel | null> };
}

export interface FaceAnalyzerOptions {
  /** Faces detected per frame (the session follows one; the others let it keep the same one). */
  maxFaces?: number;
  /** Detector box confidence under which a detection is not a face (see docs/features.md). */
  minBoxScore?: number;
  /** Refine the eyes with the iris model (478 points instead of 468); costs ~9 ms per face. */
  iris?: boolean;
  /** false runs the detector alone (no faces come out): only for measuring the detector's cost. */
  mesh?: boolean;
}

export interface FaceCandidateFeatures {
  box: Box;
  boxScore: number;
  faceScore: number;
  /** The full video feature vector for this face (spec eri-face-audio-v2), face flag set. */
  vector: Float32Array;
}

export interface FaceTimings {
  /** Whether the face detector ran (false: the faces came from the carried tracks). */
  detector: boolean;
  /** Human's stage: detector (when it ran) + mesh + iris. */
  detectMs: number;
  embeddingMs: number;
  localMs: number;
}

/**
 * Expression net outputs: the last residual block's [1, 8, 8, 256] activations (global-average-pooled
 * here into the embedding; the graph's own pooling node is folded away by the converter) and the
 * class probabilities.
 */
const EMBEDDING_NODE = 'StatefulPartitionedCall/model_1/add_2/add';
const PROBS_NODE = 'Identity';
/** Human's grayscale weights for the expression net's input. */
const GRAY = [0.2989, 0.587, 0.114];

export const DEFAULT_MIN_BOX_SCORE = 0.66;

/** Human's enlargement of the detector's box before the mesh (its default, stated for the tracker). */
const DETECTOR_SCALE = 1.4;

/**
 * Mesh confidence under which a followed face counts as lost (the detector then runs on the same
 * frame). Human keeps faces down to the detector's 0.2; a crop that has drifted off the face scores
 * low on the mesh, while real faces score above 0.9 (see docs/features.md).
 */
const TRACKED_MIN_FACE_SCORE = 0.5;

/**
 * Half the expression crop's side over the mesh's RMS radius: 2.58 gives on average the framing of
 * Human's own face crop (1.45-1.57 times the mesh's extent on real clips).
 */
const EXPRESSION_CROP = 2.58;
/** Human's face mesh input size, the intermediate size of the expression crop. */
const MESH_INPUT = 192;

type Backend = { kind: 'tfjs-node-gpu' | 'tfjs-node' | 'wasm'; bundle: string };

/** tfjs-node(-gpu) when installed (they cannot be installed offline, so they are never required). */
export function pickBackend(): Backend {
  for (const [pkg, bundle, kind] of [
    ['@tensorflow/tfjs-node-gpu', 'human.node-gpu.js', 'tfjs-node-gpu'],
    ['@tensorflow/tfjs-node', 'human.node.js', 'tfjs-node'],
  ] as const) {
    try {
      require.resolve(pkg);
      return { kind, bundle };
    } catch {
      // not installed
    }
  }
  return { kind: 'wasm', bundle: 'human.node-wasm.js' };
}

let fileFetchInstalled = false;

/**
 * Human loads models with fetch(), and Node's fetch refuses file:// URLs. This serves file:// from disk
 * and passes everything else through. It patches the global of the worker thread that runs the models.
 */
function installFileFetch(): void {
  if (fileFetchInstalled) return;
  fileFetchInstalled = true;
  const original = globalThis.fetch;
  globalThis.fetch = (async (url: string | URL | Request, init?: RequestInit) => {
    const href = typeof url === 'string' ? url : url instanceof URL ? url.href : url.url;
    if (!href.startsWith('file://')) return original(url, init);
    const bytes = await readFile(new URL(href));
    return new Response(bytes, { status: 200 });
  }) as typeof fetch;
}

/** A package's root folder (some packages do not export ./package.json, so walk up from its entry). */
function packageDir(name: string): string {
  let dir = dirname(require.resolve(name));
  while (!existsSync(join(dir, 'package.json')) || dir.endsWith('dist')) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot locate the ${name} package`);
    dir = up;
  }
  return dir;
}

export class FaceAnalyzer {
  readonly #human: Human;
  readonly #emotion: GraphModel;
  readonly #gray: TensorLike;
  readonly #minBoxScore: number;
  readonly #detector: SeededDetector<TensorLike>;
  /** Human is not re-entrant (nor is the seeded detector): analyses run one at a time. */
  #queue: Promise<unknown> = Promise.resolve();
  #widened = new Int32Array(0);
  readonly backend: string;

  private constructor(
    human: Human,
    emotion: GraphModel,
    detector: SeededDetector<TensorLike>,
    backend: string,
    minBoxScore: number,
  ) {
    this.#human = human;
    this.#emotion = emotion;
    this.#detector = detector;
    this.#gray = human.tf.tensor1d(GRAY);
    this.#minBoxScore = minBoxScore;
    this.backend = backend;
  }

  static async create(options: FaceAnalyzerOptions = {}): Promise<FaceAnalyzer> {
    installFileFetch();
    const backend = pickBackend();
    const humanDir = packageDir('@vladmandic/human');
    try {
      const { Human } = require(join(humanDir, 'dist', backend.bundle)) as {
        Human: new (config: object) => Human;
      };
      const human = new Human({
        backend: backend.kind === 'wasm' ? 'wasm' : 'tensorflow',
        wasmPath: `${pathToFileURL(join(packageDir('@tensorflow/tfjs-backend-wasm'), 'dist')).href}/`,
        modelBasePath: `${pathToFileURL(join(humanDir, 'models')).href}/`,
        debug: false,
        async: false,
        warmup: 'none',
        // 0 turns off Human's frame-to-frame caching (see the module comment).
        cacheSensitivity: 0,
        filter: { enabled: false },
        face: {
          enabled: true,
          detector: {
            rotation: false,
            maxDetected: options.maxFaces ?? 3,
            skipFrames: 0,
            skipTime: 0,
            minConfidence: 0.2,
            scale: DETECTOR_SCALE,
            // The expression crop is made here from the frame (see #expression).
            return: false,
          },
          mesh: { enabled: options.mesh ?? true },
          iris: { enabled: (options.mesh ?? true) && (options.iris ?? true), skipFrames: 0, skipTime: 0 },
          // Loaded for its graph; run here on the face crop, so Human must not run it again.
          emotion: { enabled: true, skipFrames: 0, skipTime: 0 },
          description: { enabled: false },
          antispoof: { enabled: false },
          liveness: { enabled: false },
          attention: { enabled: false },
        },
        body: { enabled: false },
        hand: { enabled: false },
        object: { enabled: false },
        gesture: { enabled: false },
        segmentation: { enabled: false },
      });
      await human.load();
      const emotion = human.models.models.emotion;
      if (!emotion) throw new Error('the expression model did not load');
      const blazeface = human.models.models.blazeface;
      if (!blazeface) throw new Error('the face detector did not load');
      (
        human as unknown as { config: { face: { emotion: { enabled: boolean } } } }
      ).config.face.emotion.enabled = false;
      return new FaceAnalyzer(
        human,
        emotion,
        new SeededDetector<TensorLike>(human.tf, blazeface, DETECTOR_SCALE),
        `${backend.kind} (${human.tf.getBackend()})`,
        options.minBoxScore ?? DEFAULT_MIN_BOX_SCORE,
      );
    } catch (cause) {
      throw new EriError('ERI_ERR_FEATURES', `cannot load the face models: ${(cause as Error).message}`, {
        cause,
      });
    }
  }

  get minBoxScore(): number {
    return this.#minBoxScore;
  }

  /**
   * Expression embedding (256) and probabilities (7) of a face, preprocessed as Human does. The crop is
   * framed by the mesh alone, not by the box the mesh ran in: that box is the detector's on some frames
   * and the tracked one on others, and the expression net is sensitive enough to framing that the two
   * would differ systematically. The mesh's centroid and RMS radius frame it more steadily than its
   * extremes (embedding cosine between successive frames 0.95 vs 0.93 on a real clip).
   */
  async #expression(
    image: TensorLike,
    mesh: readonly Point3[],
    width: number,
    height: number,
  ): Promise<{ embedding: Float32Array; probs: Float32Array }> {
    const tf = this.#human.tf;
    let [cx, cy] = [0, 0];
    for (const [x, y] of mesh) {
      cx += x / mesh.length;
      cy += y / mesh.length;
    }
    let spread = 0;
    for (const [x, y] of mesh) spread += ((x - cx) ** 2 + (y - cy) ** 2) / mesh.length;
    const half = EXPRESSION_CROP * Math.sqrt(spread);
    const box = [(cy - half) / height, (cx - half) / width, (cy + half) / height, (cx + half) / width];
    // Two steps, as Human's own path goes (face crop at the mesh's input size, then the net's 64x64).
    const crop = tf.image.cropAndResize(image, [box], [0], [MESH_INPUT, MESH_INPUT]);
    const unit = tf.div(crop, 255);
    const resized = tf.image.resizeBilinear(unit, [64, 64], false);
    const weighted = tf.mul(resized, this.#gray);
    const gray = tf.sum(weighted, 3, true);
    const centred = tf.sub(gray, 0.5);
    const input = tf.mul(centred, 2);
    const outputs = this.#emotion.execute(input, [EMBEDDING_NODE, PROBS_NODE]) as TensorLike[];
    const pooled = tf.mean(outputs[0] as TensorLike, [1, 2]);
    try {
      const [embedding, probs] = await Promise.all([pooled.data(), (outputs[1] as TensorLike).data()]);
      return { embedding: Float32Array.from(embedding ?? []), probs: Float32Array.from(probs ?? []) };
    } finally {
      tf.dispose([crop, unit, resized, weighted, gray, centred, input, pooled, ...outputs]);
    }
  }

  /**
   * Every face in an RGB24 frame with its full feature vector. With `follow`, the faces are looked for
   * where the previous frame's mesh left them, without the detector; if none of them is found there, the
   * detector runs on this frame after all.
   */
  analyze(
    rgb: Uint8Array,
    width: number,
    height: number,
    follow: readonly TrackedFace[] = [],
  ): Promise<{ faces: FaceCandidateFeatures[]; timings: FaceTimings }> {
    const run = this.#queue.then(async () => {
      const tf = this.#human.tf;
      const frame = { rgb, width, height, image: tf.tensor3d(this.#widen(rgb), [height, width, 3], 'int32') };
      try {
        if (follow.length > 0) {
          const tracked = await this.#analyze(frame, follow);
          if (tracked.faces.length > 0) return tracked;
          const detected = await this.#analyze(frame, []);
          detected.timings.detectMs += tracked.timings.detectMs;
          return detected;
        }
        return await this.#analyze(frame, []);
      } finally {
        tf.dispose(frame.image);
      }
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  async #analyze(
    { rgb, width, height, image }: { rgb: Uint8Array; width: number; height: number; image: TensorLike },
    follow: readonly TrackedFace[],
  ): Promise<{ faces: FaceCandidateFeatures[]; timings: FaceTimings }> {
    const tf = this.#human.tf;
    const detector = follow.length === 0;
    const timings: FaceTimings = { detector, detectMs: 0, embeddingMs: 0, localMs: 0 };
    let t0 = performance.now();
    const batch = tf.expandDims(image, 0);
    try {
      const result = detector
        ? await this.#human.detect(image)
        : await this.#detector.with(follow, () => this.#human.detect(image));
      timings.detectMs = performance.now() - t0;
      if (result.error) throw new EriError('ERI_ERR_FEATURES', `face detection failed: ${result.error}`);
      const faces: FaceCandidateFeatures[] = [];
      for (const face of result.face) {
        if (face.mesh.length < MESH_POINTS) continue;
        if (!detector && face.faceScore < TRACKED_MIN_FACE_SCORE) continue;
        t0 = performance.now();
        const { embedding, probs } = await this.#expression(batch, face.mesh, width, height);
        timings.embeddingMs += performance.now() - t0;
        t0 = performance.now();
        const vector = new Float32Array(ERI_FACE_AUDIO_SPEC.video.dim);
        let at = 0;
        vector.set(embedding, at);
        at += embedding.length;
        vector.set(probs, at);
        at += probs.length;
        vector.set(actionUnits(face.mesh, browHeights(rgb, width, height, face.mesh)), at);
        at += ACTION_UNITS.length;
        const angle = face.rotation?.angle ?? { yaw: 0, pitch: 0, roll: 0 };
        vector.set([angle.yaw, angle.pitch, angle.roll], at);
        at += 3;
        vector.set([1, face.boxScore], at);
        timings.localMs += performance.now() - t0;
        faces.push({ box: face.boxRaw, boxScore: face.boxScore, faceScore: face.faceScore, vector });
      }
      return { faces, timings };
    } finally {
      tf.dispose(batch);
    }
  }

  /**
   * The frame as int32, in a buffer reused from frame to frame (tfjs copies it into its own memory).
   * Given bytes, tfjs would widen them value by value in JS (~1.5 ms a frame) into a new 3.7 MB array
   * per 640x480 frame, and that churn keeps the garbage collector's threads busy.
   */
  #widen(rgb: Uint8Array): Int32Array {
    if (this.#widened.length !== rgb.length) this.#widened = new Int32Array(rgb.length);
    this.#widened.set(rgb);
    return this.#widened;
  }

  /** Live tensors in the backend: constant across frames unless something leaks. */
  get tensorCount(): number {
    return this.#human.tf.memory().numTensors;
  }
}
