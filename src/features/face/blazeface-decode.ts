import { EriError } from '../../errors.js';
import type { TrackedFace } from './track.js';

/**
 * BlazeFace's output, decoded as Human 3.3 (`face/blazeface.ts`) decodes it, step for step, so the
 * boxes the mesh runs in are the ones Human's tfjs path gave: per anchor a logit and 16 regressors (box
 * centre offset from the anchor and size, in input pixels, then 6 keypoints); the 16x16 grid's 2
 * anchors per cell (512 rows) come before the 8x8 grid's 6 (384 rows); non-maximum suppression; then
 * the box scaled to the frame, enlarged and made square with integer corners.
 */

/** [x1, y1, x2, y2] in pixels. */
export type Corners = [number, number, number, number];

export interface DetectedBox {
  /** The square box the mesh runs in, in frame pixels (integer corners, as Human rounds them). */
  corners: Corners;
  /** The detector's confidence for this face (sigmoid of its logit). */
  confidence: number;
}

export interface DetectorSettings {
  /** The detector's input side (256). */
  inputSize: number;
  /** How much the detector's box is enlarged before the mesh (Human's face.detector.scale). */
  scale: number;
  maxFaces: number;
  iouThreshold: number;
  minConfidence: number;
}

export const FINE_ROWS = 512;
export const COARSE_ROWS = 384;
const COLUMNS = 17;

export function anchors(inputSize: number): Float32Array {
  const out: number[] = [];
  for (const [stride, perCell] of [
    [inputSize / 16, 2],
    [inputSize / 8, 6],
  ] as const) {
    const cells = Math.floor((inputSize + stride - 1) / stride);
    for (let y = 0; y < cells; y++)
      for (let x = 0; x < cells; x++)
        for (let n = 0; n < perCell; n++) out.push(stride * (x + 0.5), stride * (y + 0.5));
  }
  return Float32Array.from(out);
}

/** A candidate in detector-input pixels, before scaling to the frame. */
interface Candidate {
  box: Corners;
  score: number;
}

/**
 * The network's four outputs (logits and regressors of each grid, in any order) as candidates. Shapes
 * are checked: a detector with another layout would decode to garbage.
 */
/**
 * One anchor's box as Human's decodeBoxes computes it in float32 tensors: the same operations, each
 * rounded to float32, so a box edge next to .5 rounds the same way when Human squares it (a pixel's
 * difference in the crop would otherwise start to move a followed face's track).
 */
function decodeBox(
  dx: number,
  dy: number,
  w: number,
  h: number,
  anchorX: number,
  anchorY: number,
  size: number,
): Corners {
  const f = Math.fround;
  const cx = f(f(dx + anchorX) / size);
  const cy = f(f(dy + anchorY) / size);
  const hw = f(f(w / size) / 2);
  const hh = f(f(h / size) / 2);
  return [f(f(cx - hw) * size), f(f(cy - hh) * size), f(f(cx + hw) * size), f(f(cy + hh) * size)];
}

const sigmoid32 = (x: number) => Math.fround(1 / (1 + Math.exp(-x)));

export function candidatesFromOutputs(
  outputs: readonly { dims: readonly number[]; data: Float32Array }[],
  anchorTable: Float32Array,
  inputSize: number,
): Candidate[] {
  const find = (rows: number, width: number) => {
    const t = outputs.find((o) => o.dims.at(-2) === rows && o.dims.at(-1) === width);
    if (!t) throw new EriError('ERI_ERR_FEATURES', `face detector: no ${rows}x${width} output`);
    return t.data;
  };
  const grids = [
    { rows: FINE_ROWS, logits: find(FINE_ROWS, 1), regs: find(FINE_ROWS, COLUMNS - 1) },
    { rows: COARSE_ROWS, logits: find(COARSE_ROWS, 1), regs: find(COARSE_ROWS, COLUMNS - 1) },
  ];
  const out: Candidate[] = [];
  let anchor = 0;
  for (const g of grids) {
    for (let r = 0; r < g.rows; r++, anchor++) {
      const reg = r * (COLUMNS - 1);
      out.push({
        box: decodeBox(
          g.regs[reg] as number,
          g.regs[reg + 1] as number,
          g.regs[reg + 2] as number,
          g.regs[reg + 3] as number,
          anchorTable[2 * anchor] as number,
          anchorTable[2 * anchor + 1] as number,
          inputSize,
        ),
        score: sigmoid32(g.logits[r] as number),
      });
    }
  }
  return out;
}

/**
 * Followed faces as the candidates the detector would have had to give for exactly these boxes (the
 * box shrunk by `scale`, which the decoding enlarges again; the score through the logit and back), so
 * tracked and detected frames share every step after the network. The raw values are float32, as the
 * tensor Human decodes them from.
 */
export function candidatesFromTracked(faces: readonly TrackedFace[], s: DetectorSettings): Candidate[] {
  const f = Math.fround;
  const stride = s.inputSize / 16;
  return faces.slice(0, FINE_ROWS).map((face, k) => {
    const cell = Math.floor(k / 2);
    const anchorX = stride * ((cell % 16) + 0.5);
    const anchorY = stride * (Math.floor(cell / 16) + 0.5);
    const [x, y, w, h] = face.box;
    const p = Math.min(0.999, Math.max(0.001, face.boxScore));
    return {
      box: decodeBox(
        f((x + w / 2) * s.inputSize - anchorX),
        f((y + h / 2) * s.inputSize - anchorY),
        f((w * s.inputSize) / s.scale),
        f((h * s.inputSize) / s.scale),
        anchorX,
        anchorY,
        s.inputSize,
      ),
      score: sigmoid32(f(Math.log(p / (1 - p)))),
    };
  });
}

function iou(a: Corners, b: Corners): number {
  const area = (c: Corners) =>
    (Math.max(c[0], c[2]) - Math.min(c[0], c[2])) * (Math.max(c[1], c[3]) - Math.min(c[1], c[3]));
  const aa = area(a);
  const ab = area(b);
  if (aa <= 0 || ab <= 0) return 0;
  const w =
    Math.min(Math.max(a[0], a[2]), Math.max(b[0], b[2])) -
    Math.max(Math.min(a[0], a[2]), Math.min(b[0], b[2]));
  const h =
    Math.min(Math.max(a[1], a[3]), Math.max(b[1], b[3])) -
    Math.max(Math.min(a[1], a[3]), Math.min(b[1], b[3]));
  const inter = Math.max(0, w) * Math.max(0, h);
  return inter / (aa + ab - inter);
}

/** Greedy non-maximum suppression as tf.image.nonMaxSuppression: scores above the threshold, best first. */
export function nonMaxSuppression(c: readonly Candidate[], s: DetectorSettings): Candidate[] {
  const order = c
    .map((x, i) => ({ x, i }))
    .filter(({ x }) => x.score > s.minConfidence)
    .sort((a, b) => b.x.score - a.x.score || a.i - b.i);
  const kept: Candidate[] = [];
  for (const { x } of order) {
    if (kept.length >= s.maxFaces) break;
    if (kept.every((k) => iou(k.box, x.box) < s.iouThreshold)) kept.push(x);
  }
  return kept;
}

/** Detector-input pixels -> a square box in frame pixels: scaled, enlarged by `scale`, squared, rounded. */
export function frameBox(c: Candidate, s: DetectorSettings, width: number, height: number): DetectedBox {
  const fx = width / s.inputSize;
  const fy = height / s.inputSize;
  const [x1, y1, x2, y2] = [c.box[0] * fx, c.box[1] * fy, c.box[2] * fx, c.box[3] * fy];
  const cx = x1 + (x2 - x1) / 2;
  const cy = y1 + (y2 - y1) / 2;
  const half = Math.max(s.scale * Math.abs(x2 - x1), s.scale * Math.abs(y2 - y1)) / 2;
  return {
    corners: [Math.round(cx - half), Math.round(cy - half), Math.round(cx + half), Math.round(cy + half)],
    confidence: c.score,
  };
}

export function detectedBoxes(
  candidates: readonly Candidate[],
  s: DetectorSettings,
  width: number,
  height: number,
): DetectedBox[] {
  return nonMaxSuppression(candidates, s).map((c) => frameBox(c, s, width, height));
}
