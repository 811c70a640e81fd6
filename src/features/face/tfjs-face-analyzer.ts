import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EriError } from '../../errors.js';
import { packageDir } from '../../util/package-dir.js';
import { MESH_POINTS, type Point3 } from './action-units.js';
import { EMBEDDING_NODE } from './face-graphs.js';
import {
  DEFAULT_MIN_BOX_SCORE,
  DETECTOR_IOU,
  DETECTOR_MIN_CONFIDENCE,
  DETECTOR_SCALE,
  expressionCorners,
  type FaceAnalysis,
  type FaceAnalyzerBackend,
  type FaceAnalyzerOptions,
  type FaceCandidateFeatures,
  type FaceTimings,
  faceVector,
  followOrDetect,
  IRIS_SCALE,
  TRACKED_MIN_FACE_SCORE,
} from './face-vector.js';
import { SeededDetector } from './seeded-detector.js';
import type { TrackedFace } from './track.js';

/**
 * The tfjs face backend, the reference the onnxruntime backend is compared against
 * (`ERI_FACE_BACKEND=tfjs`). Face features with @vladmandic/human, whose models ship inside its npm package: the blazeface
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

/**
 * Expression net outputs: the last residual block's [1, 8, 8, 256] activations (global-average-pooled
 * here into the embedding; the graph's own pooling node is folded away by the converter) and the
 * class probabilities.
 */
const PROBS_NODE = 'Identity';
/** Human's grayscale weights for the expression net's input. */
const GRAY = [0.2989, 0.587, 0.114];
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

export class TfjsFaceAnalyzer implements FaceAnalyzerBackend {
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

  static async create(options: FaceAnalyzerOptions = {}): Promise<TfjsFaceAnalyzer> {
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
            minConfidence: DETECTOR_MIN_CONFIDENCE,
            iouThreshold: DETECTOR_IOU,
            scale: DETECTOR_SCALE,
            // The expression crop is made here from the frame (see #expression).
            return: false,
          },
          mesh: { enabled: options.mesh ?? true },
          iris: {
            enabled: (options.mesh ?? true) && (options.iris ?? true),
            scale: IRIS_SCALE,
            skipFrames: 0,
            skipTime: 0,
          },
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
      return new TfjsFaceAnalyzer(
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

  /** Expression embedding (256) and probabilities (7) of a face, preprocessed as Human does. */
  async #expression(
    image: TensorLike,
    mesh: readonly Point3[],
    width: number,
    height: number,
  ): Promise<{ embedding: Float32Array; probs: Float32Array }> {
    const tf = this.#human.tf;
    const [x1, y1, x2, y2] = expressionCorners(mesh);
    const box = [y1 / height, x1 / width, y2 / height, x2 / width];
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

  analyze(
    rgb: Uint8Array,
    width: number,
    height: number,
    follow: readonly TrackedFace[] = [],
  ): Promise<FaceAnalysis> {
    const run = this.#queue.then(async () => {
      const tf = this.#human.tf;
      const frame = { rgb, width, height, image: tf.tensor3d(this.#widen(rgb), [height, width, 3], 'int32') };
      try {
        return await followOrDetect(follow, (faces) => this.#analyze(frame, faces));
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
  ): Promise<FaceAnalysis> {
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
        const angle = face.rotation?.angle ?? { yaw: 0, pitch: 0, roll: 0 };
        const vector = faceVector(
          { mesh: face.mesh, angle, boxScore: face.boxScore, embedding, probs },
          rgb,
          width,
          height,
        );
        timings.localMs += performance.now() - t0;
        faces.push({
          box: face.boxRaw,
          boxScore: face.boxScore,
          faceScore: face.faceScore,
          vector,
          mesh: face.mesh,
        });
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
