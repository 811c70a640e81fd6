import { EriError } from '../../errors.js';
import type { TrackedFace } from './track.js';

/**
 * Lets a session's tracked faces stand in for the face detector. Human's detector (BlazeFace, about
 * half of a step's cost) is wrapped: while seeded, instead of running the network it returns the raw
 * output the network would give for exactly the carried boxes, and everything after it in Human —
 * box decoding, the mesh on the box's crop, iris, angles — runs unchanged. That is what Human's own
 * tracking does with its cached boxes, except that the boxes come from the caller (one session) and not
 * from a module-global cache shared by every session in the thread.
 *
 * The raw layout is BlazeFace's as Human's `blazeface.getBoxes` decodes it: per anchor a logit and 16
 * regressors (box centre offset from the anchor and size in input pixels, then 6 keypoints), the
 * 16x16 grid's 2 anchors per cell (512 rows) before the 8x8 grid's 6 (384 rows).
 */

interface Tf<Tensor> {
  tensor3d(values: Float32Array, shape: [number, number, number]): Tensor;
  zeros(shape: number[]): Tensor;
  dispose(x: Tensor | Tensor[]): void;
}
export interface DetectorModel<Tensor> {
  execute(x: Tensor, outputs?: string[]): Tensor | Tensor[];
  inputs: { shape?: number[] }[];
}

const FINE_ROWS = 512;
const COARSE_ROWS = 384;
const REGRESSORS = 16;
/** A logit no anchor reaches by chance: sigmoid(-100) is 0, under any confidence threshold. */
const ABSENT_LOGIT = -100;

export class SeededDetector<Tensor extends { shape: number[] }> {
  readonly #tf: Tf<Tensor>;
  readonly #inputSize: number;
  readonly #scale: number;
  readonly #shapes: [number, number, number][];
  #seed: readonly TrackedFace[] | undefined;

  /**
   * @param scale Human's `face.detector.scale`: how much it enlarges the detector's box before the mesh.
   */
  constructor(tf: Tf<Tensor>, model: DetectorModel<Tensor>, scale: number) {
    this.#tf = tf;
    this.#scale = scale;
    const inputShape = model.inputs[0]?.shape;
    const inputSize = inputShape?.[2];
    if (!inputShape || !inputSize || inputSize <= 0) {
      throw new EriError('ERI_ERR_FEATURES', 'face detector: unknown input size');
    }
    this.#inputSize = inputSize;
    const original = model.execute.bind(model);
    const probe = original(tf.zeros(inputShape.map((d) => (d > 0 ? d : 1))));
    const outputs = Array.isArray(probe) ? probe : [probe];
    this.#shapes = outputs.map((t) => t.shape as [number, number, number]);
    tf.dispose(outputs);
    const rows = (s: [number, number, number]) => `${s[1]}x${s[2]}`;
    const layout = this.#shapes.map(rows).sort().join(',');
    const expected = [`${COARSE_ROWS}x1`, `${COARSE_ROWS}x${REGRESSORS}`, `${FINE_ROWS}x1`]
      .concat(`${FINE_ROWS}x${REGRESSORS}`)
      .sort()
      .join(',');
    if (layout !== expected) {
      throw new EriError('ERI_ERR_FEATURES', `face detector: unexpected output layout ${layout}`);
    }
    model.execute = (x, names) => (this.#seed ? this.#seeded(this.#seed) : original(x, names));
  }

  /** Runs `detect` with the detector replaced by these faces (at most 512). */
  async with<T>(faces: readonly TrackedFace[], detect: () => Promise<T>): Promise<T> {
    this.#seed = faces.slice(0, FINE_ROWS);
    try {
      return await detect();
    } finally {
      this.#seed = undefined;
    }
  }

  #seeded(faces: readonly TrackedFace[]): Tensor[] {
    const s = this.#inputSize;
    const stride = s / 16;
    return this.#shapes.map((shape) => {
      const [, rows, width] = shape;
      const values = new Float32Array(rows * width);
      if (width === 1) values.fill(ABSENT_LOGIT);
      if (rows === FINE_ROWS) {
        faces.forEach((face, k) => {
          const cell = Math.floor(k / 2);
          const anchorX = stride * ((cell % 16) + 0.5);
          const anchorY = stride * (Math.floor(cell / 16) + 0.5);
          const [x, y, w, h] = face.box;
          if (width === 1) {
            const p = Math.min(0.999, Math.max(0.001, face.boxScore));
            values[k] = Math.log(p / (1 - p));
          } else {
            // Human enlarges the decoded box by `scale` before cropping: hand it the shrunk box.
            values.set(
              [
                (x + w / 2) * s - anchorX,
                (y + h / 2) * s - anchorY,
                (w * s) / this.#scale,
                (h * s) / this.#scale,
              ],
              k * width,
            );
          }
        });
      }
      return this.#tf.tensor3d(values, shape);
    });
  }
}
