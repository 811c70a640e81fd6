import { EriError } from '../../errors.js';
import type { InferenceSession, OnnxRuntime, Tensor } from '../onnx-runtime.js';
import { MESH_POINTS, type Point3 } from './action-units.js';
import {
  anchors,
  type Corners,
  candidatesFromOutputs,
  candidatesFromTracked,
  type DetectedBox,
  type DetectorSettings,
  detectedBoxes,
} from './blazeface-decode.js';
import { EMBEDDING_NODE, FACE_INPUT_SIZES, type FaceSessions, PROBS_NODE, roiOf } from './face-graphs.js';
import {
  averagePool,
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
import { eyeBox, followBox, headPose, meshToFrame, normalisedBox, refineWithIris } from './mesh-geometry.js';
import { NetworkBatcher } from './network-batcher.js';
import type { TrackedFace } from './track.js';

/**
 * The face stage on onnxruntime (the default backend): Human's four networks converted to ONNX, and
 * around them the project's own code for what Human's JavaScript did (detector decoding and NMS,
 * crops, mesh to frame coordinates, iris refinement, head pose), step for step as Human 3.3 does it, so
 * the features keep their definitions (docs/features.md; compared with the tfjs backend in the tests).
 *
 * One analyzer serves every session of its worker thread, and several frames may be in analysis at
 * once: each network call takes the crops of all of them (NetworkBatcher). Nothing here keeps
 * per-session state; the tracked faces come in with each frame.
 *
 * The same class runs in a viewer's browser in edge mode, on onnxruntime-web with the same graphs: it
 * is given the runtime and the opened sessions (onnx-face-node.ts opens them in Node).
 */

const EMBEDDING_CHANNELS = 256;
const IRIS_VALUES = 76 * 3;
const DEFAULT_MAX_BATCH = 8;

/** Reusable float copies of frames, one per frame in analysis. */
class FramePool {
  readonly #free: Float32Array[] = [];
  acquire(rgb: Uint8Array): Float32Array {
    const i = this.#free.findIndex((b) => b.length === rgb.length);
    const buffer = i >= 0 ? (this.#free.splice(i, 1)[0] as Float32Array) : new Float32Array(rgb.length);
    buffer.set(rgb);
    return buffer;
  }
  release(buffer: Float32Array): void {
    if (this.#free.length < 8) this.#free.push(buffer);
  }
}

interface Frame {
  rgb: Uint8Array;
  width: number;
  height: number;
  tensor: Tensor;
}

export class OnnxFaceAnalyzer implements FaceAnalyzerBackend {
  readonly #ort: OnnxRuntime;
  readonly #s: FaceSessions;
  readonly #detector: NetworkBatcher;
  readonly #mesh: NetworkBatcher;
  readonly #iris: NetworkBatcher | undefined;
  readonly #expression: NetworkBatcher;
  readonly #settings: DetectorSettings;
  readonly #anchors: Float32Array;
  readonly #withMesh: boolean;
  readonly #frames = new FramePool();
  readonly minBoxScore: number;
  readonly backend: string;

  constructor(runtime: OnnxRuntime, sessions: FaceSessions, options: FaceAnalyzerOptions = {}) {
    this.#ort = runtime;
    this.#s = sessions;
    const max = options.maxBatch ?? DEFAULT_MAX_BATCH;
    const { detector, mesh, iris, expression } = FACE_INPUT_SIZES;
    const need = (s: InferenceSession | undefined, what: string) => {
      if (!s) throw new EriError('ERI_ERR_FEATURES', `the ${what} network did not load`);
      return s;
    };
    this.#detector = new NetworkBatcher(
      runtime,
      need(sessions.detector, 'detector'),
      [detector, detector, 3],
      max,
    );
    this.#mesh = new NetworkBatcher(runtime, need(sessions.mesh, 'mesh'), [mesh, mesh, 3], max);
    this.#iris = sessions.iris
      ? new NetworkBatcher(runtime, sessions.iris, [iris, iris, 3], 2 * max)
      : undefined;
    this.#expression = new NetworkBatcher(
      runtime,
      need(sessions.expression, 'expression'),
      [expression, expression, 1],
      max,
    );
    this.#settings = {
      inputSize: detector,
      scale: DETECTOR_SCALE,
      maxFaces: options.maxFaces ?? 3,
      iouThreshold: DETECTOR_IOU,
      minConfidence: DETECTOR_MIN_CONFIDENCE,
    };
    this.#anchors = anchors(detector);
    this.#withMesh = options.mesh ?? true;
    this.minBoxScore = options.minBoxScore ?? DEFAULT_MIN_BOX_SCORE;
    const providers = options.executionProviders ?? ['cpu'];
    this.backend = `onnxruntime (${providers.join(', ')}${this.#iris ? '' : ', no iris'})`;
  }

  /** Network calls and crops run so far (crops / calls is the mean batch). */
  get batchStats(): Record<string, { calls: number; items: number }> {
    return {
      detector: this.#detector.stats,
      mesh: this.#mesh.stats,
      ...(this.#iris ? { iris: this.#iris.stats } : {}),
      expression: this.#expression.stats,
    };
  }

  async analyze(
    rgb: Uint8Array,
    width: number,
    height: number,
    follow: readonly TrackedFace[] = [],
  ): Promise<FaceAnalysis> {
    if (rgb.length !== width * height * 3) {
      throw new EriError(
        'ERI_ERR_INVALID_ARGUMENT',
        `frame of ${rgb.length} bytes is not ${width}x${height} RGB`,
      );
    }
    const buffer = this.#frames.acquire(rgb);
    const frame: Frame = {
      rgb,
      width,
      height,
      tensor: new this.#ort.Tensor('float32', buffer, [1, height, width, 3]),
    };
    try {
      return await followOrDetect(follow, (faces) => this.#analyze(frame, faces));
    } finally {
      this.#frames.release(buffer);
    }
  }

  async #analyze(frame: Frame, follow: readonly TrackedFace[]): Promise<FaceAnalysis> {
    const detector = follow.length === 0;
    const timings: FaceTimings = { detector, detectMs: 0, embeddingMs: 0, localMs: 0 };
    const t0 = performance.now();
    const candidates = detector ? await this.#detect(frame) : candidatesFromTracked(follow, this.#settings);
    const boxes = detectedBoxes(candidates, this.#settings, frame.width, frame.height);
    if (!this.#withMesh) {
      timings.detectMs = performance.now() - t0;
      return { faces: [], timings };
    }
    const faces = await Promise.all(boxes.map((box) => this.#face(frame, box, detector, timings, t0)));
    return { faces: faces.filter((f): f is FaceCandidateFeatures => f !== undefined), timings };
  }

  async #detect(frame: Frame): Promise<ReturnType<typeof candidatesFromOutputs>> {
    const { input } = await this.#s.detectorInput.run({ frame: frame.tensor });
    const outputs = await this.#detector.run((input as Tensor).data as Float32Array);
    return candidatesFromOutputs(Object.values(outputs), this.#anchors, this.#settings.inputSize);
  }

  /** One box through mesh (+ iris) and the expression net; undefined when the mesh finds no face. */
  async #face(
    frame: Frame,
    box: DetectedBox,
    detector: boolean,
    timings: FaceTimings,
    t0: number,
  ): Promise<FaceCandidateFeatures | undefined> {
    const size = FACE_INPUT_SIZES.mesh;
    const { crop } = await this.#s.meshCrop.run({
      frame: frame.tensor,
      roi: new this.#ort.Tensor('float32', roiOf(box.corners, frame.width, frame.height), [8]),
    });
    const out = await this.#mesh.run((crop as Tensor).data as Float32Array);
    const flag = Object.values(out).find((o) => o.dims.at(-1) === 1);
    const points = Object.values(out).find((o) => o.dims.at(-1) === MESH_POINTS * 3);
    if (!flag || !points) throw new EriError('ERI_ERR_FEATURES', 'face mesh: unexpected outputs');
    const faceScore = Math.round(100 * (flag.data[0] as number)) / 100;
    // Human drops a mesh under its detector floor; a followed face must score higher to count as found.
    if (!(faceScore > DETECTOR_MIN_CONFIDENCE)) return undefined;
    if (!detector && faceScore < TRACKED_MIN_FACE_SCORE) return undefined;
    let raw: Point3[] = Array.from({ length: MESH_POINTS }, (_, i) => [
      points.data[3 * i] as number,
      points.data[3 * i + 1] as number,
      points.data[3 * i + 2] as number,
    ]);
    if (this.#iris) raw = await this.#refineEyes(raw, crop as Tensor);
    const mesh = meshToFrame(raw, box.corners, size);
    const follow: Corners = followBox(mesh, box.corners);
    const boxRaw = normalisedBox(follow, frame.width, frame.height);
    timings.detectMs = Math.max(timings.detectMs, performance.now() - t0);

    let t = performance.now();
    const [x1, y1, x2, y2] = expressionCorners(mesh);
    const { input } = await this.#s.expressionCrop.run({
      frame: frame.tensor,
      roi: new this.#ort.Tensor('float32', roiOf([x1, y1, x2, y2], frame.width, frame.height), [8]),
    });
    const expression = await this.#expression.run((input as Tensor).data as Float32Array);
    const embedding = averagePool(
      (expression[EMBEDDING_NODE] as { data: Float32Array }).data,
      EMBEDDING_CHANNELS,
    );
    const probs = Float32Array.from((expression[PROBS_NODE] as { data: Float32Array }).data);
    timings.embeddingMs += performance.now() - t;

    t = performance.now();
    const boxScore = Math.round(100 * box.confidence) / 100;
    const angle = headPose(mesh, boxRaw, frame.width, frame.height, size);
    const vector = faceVector(
      { mesh, angle, boxScore, embedding, probs },
      frame.rgb,
      frame.width,
      frame.height,
    );
    timings.localMs += performance.now() - t;
    return { box: boxRaw, boxScore, faceScore, vector, mesh };
  }

  /** The eye contours refined by the iris net, and the 10 iris points appended (478 points). */
  async #refineEyes(raw: Point3[], crop: Tensor): Promise<Point3[]> {
    const size = FACE_INPUT_SIZES.mesh;
    const boxes = { left: eyeBox(raw, 'left', IRIS_SCALE), right: eyeBox(raw, 'right', IRIS_SCALE) };
    const { eyes } = await this.#s.eyeCrops.run({
      face: crop,
      left: new this.#ort.Tensor('float32', roiOf(boxes.left, size, size), [8]),
      right: new this.#ort.Tensor('float32', roiOf(boxes.right, size, size), [8]),
    });
    const out = Object.values(
      await (this.#iris as NetworkBatcher).run((eyes as Tensor).data as Float32Array, 2),
    )[0];
    if (!out || out.data.length !== 2 * IRIS_VALUES)
      throw new EriError('ERI_ERR_FEATURES', 'iris: unexpected output');
    return refineWithIris(
      raw,
      { left: out.data.subarray(0, IRIS_VALUES), right: out.data.subarray(IRIS_VALUES) },
      boxes,
      FACE_INPUT_SIZES.iris,
    );
  }

  async close(): Promise<void> {
    await Promise.all(
      Object.values(this.#s)
        .filter((s): s is InferenceSession => s !== undefined)
        .map((s) => s.release()),
    );
  }
}
