import type { Point3 } from './action-units.js';
import type { Corners } from './blazeface-decode.js';

/**
 * The geometry around the face mesh and iris networks, as Human 3.3 does it (`face/facemesh.ts`,
 * `facemeshutil.ts`, `iris.ts`, `angles.ts`; MIT), so that the mesh points, boxes and head pose are the
 * ones the tfjs path produced: raw network coordinates -> frame pixels (truncated to integers, as
 * Human does), the eye boxes the iris net sees, the iris refinement of the eye contours, the box the
 * next frame follows, and yaw/pitch/roll. The crop is not rotated: Human's detector rotation is off in
 * this project's configuration, so v2 features never rotated it either.
 */

const centre = (c: Corners): [number, number] => [c[0] + (c[2] - c[0]) / 2, c[1] + (c[3] - c[1]) / 2];
const size = (c: Corners): [number, number] => [Math.abs(c[2] - c[0]), Math.abs(c[3] - c[1])];

/** Human's enlargeBox + squarifyBox: a square around the same centre with integer corners. */
export function squareAround(c: Corners, factor: number): Corners {
  const [cx, cy] = centre(c);
  const [w, h] = size(c);
  const half = Math.max(factor * w, factor * h) / 2;
  return [Math.round(cx - half), Math.round(cy - half), Math.round(cx + half), Math.round(cy + half)];
}

/** Mesh output (input-crop pixels) -> frame pixels, truncated to integers as Human's transformRawCoords. */
export function meshToFrame(raw: readonly Point3[], box: Corners, inputSize: number): Point3[] {
  const [w, h] = size(box);
  const [cx, cy] = centre(box);
  return raw.map(([x, y, z]) => [
    Math.trunc((w / inputSize) * (x - inputSize / 2) + cx),
    Math.trunc((h / inputSize) * (y - inputSize / 2) + cy),
    Math.trunc(z),
  ]);
}

/** The box the next frame follows: the mesh's extent re-centred, the previous box's size. */
export function followBox(mesh: readonly Point3[], previous: Corners): Corners {
  let [minX, minY, maxX, maxY] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [x, y] of mesh) {
    minX = Math.min(minX, x);
    maxX = Math.max(maxX, x);
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
  }
  const cx = minX + (maxX - minX) / 2;
  const cy = minY + (maxY - minY) / 2;
  const [w, h] = size(previous);
  return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
}

/** [x, y, w, h] in 0..1 of the frame. */
export function normalisedBox(c: Corners, width: number, height: number): [number, number, number, number] {
  return [c[0] / width, c[1] / height, (c[2] - c[0]) / width, (c[3] - c[1]) / height];
}

// --- iris --------------------------------------------------------------------------------------

const EYE = {
  left: {
    upper0: [466, 388, 387, 386, 385, 384, 398],
    lower0: [263, 249, 390, 373, 374, 380, 381, 382, 362],
    upper1: [467, 260, 259, 257, 258, 286, 414],
    lower1: [359, 255, 339, 254, 253, 252, 256, 341, 463],
    upper2: [342, 445, 444, 443, 442, 441, 413],
    lower2: [446, 261, 448, 449, 450, 451, 452, 453, 464],
    lower3: [372, 340, 346, 347, 348, 349, 350, 357, 465],
    browUpper: [383, 300, 293, 334, 296, 336, 285, 417],
    browLower: [265, 353, 276, 283, 282, 295],
  },
  right: {
    upper0: [246, 161, 160, 159, 158, 157, 173],
    lower0: [33, 7, 163, 144, 145, 153, 154, 155, 133],
    upper1: [247, 30, 29, 27, 28, 56, 190],
    lower1: [130, 25, 110, 24, 23, 22, 26, 112, 243],
    upper2: [113, 225, 224, 223, 222, 221, 189],
    lower2: [226, 31, 228, 229, 230, 231, 232, 233, 244],
    lower3: [143, 111, 117, 118, 119, 120, 121, 128, 245],
    browUpper: [156, 70, 63, 105, 66, 107, 55, 193],
    browLower: [35, 124, 46, 53, 52, 65],
  },
} as const;
type Contour = keyof (typeof EYE)['left'];

/** Which of the iris net's 71 contour points stand for each mesh contour (Human's irisIndices). */
const IRIS_INDICES: [Contour, number[]][] = [
  ['upper0', [9, 10, 11, 12, 13, 14, 15]],
  ['upper1', [25, 26, 27, 28, 29, 30, 31]],
  ['upper2', [41, 42, 43, 44, 45, 46, 47]],
  ['lower0', [0, 1, 2, 3, 4, 5, 6, 7, 8]],
  ['lower1', [16, 17, 18, 19, 20, 21, 22, 23, 24]],
  ['lower2', [32, 33, 34, 35, 36, 37, 38, 39, 40]],
  ['lower3', [54, 55, 56, 57, 58, 59, 60, 61, 62]],
  ['browUpper', [63, 64, 65, 66, 67, 68, 69, 70]],
  ['browLower', [48, 49, 50, 51, 52, 53]],
];
const IRIS_POINTS = 76;
const IRIS_FIRST = 71;

export type Side = 'left' | 'right';

/** The square eye box (mesh-crop pixels) the iris net sees: both eye corners, enlarged. */
export function eyeBox(raw: readonly Point3[], side: Side, scale: number): Corners {
  const lower = EYE[side].lower0;
  const a = raw[lower[0]] as Point3;
  const b = raw[lower.at(-1) as number] as Point3;
  const box: Corners = [
    Math.min(a[0], b[0]),
    Math.min(a[1], b[1]),
    Math.max(a[0], b[0]),
    Math.max(a[1], b[1]),
  ];
  return squareAround(box, scale);
}

/**
 * The iris net's 76 points (64x64 eye-crop pixels) -> mesh-crop pixels. `mirrored`: read them as
 * Human reads the left eye's, mirrored back (both crops are mirrored, only the left is read back so;
 * kept as is, because the v2 features were computed that way).
 */
function eyePoints(data: Float32Array, box: Corners, eyeSize: number, mirrored: boolean): Point3[] {
  const [w, h] = size(box);
  return Array.from({ length: IRIS_POINTS }, (_, i) => {
    const x = data[3 * i] as number;
    const y = data[3 * i + 1] as number;
    return [
      (mirrored ? 1 - x / eyeSize : x / eyeSize) * w + box[0],
      (y / eyeSize) * h + box[1],
      data[3 * i + 2] as number,
    ] as Point3;
  });
}

function replaceContours(raw: Point3[], eye: readonly Point3[], side: Side, only?: readonly Contour[]): void {
  for (const [contour, indices] of IRIS_INDICES) {
    if (only && !only.includes(contour)) continue;
    const mesh = EYE[side][contour];
    indices.forEach((index, j) => {
      const target = mesh[j] as number;
      const p = eye[index] as Point3;
      raw[target] = [p[0], p[1], (p[2] + (raw[target] as Point3)[2]) / 2];
    });
  }
}

function irisWithDepth(raw: readonly Point3[], iris: readonly Point3[], side: Side): Point3[] {
  const upper = (raw[EYE[side].upper0[3]] as Point3)[2];
  const lower = (raw[EYE[side].lower0[4]] as Point3)[2];
  const mid = (upper + lower) / 2;
  return iris.map((p, i) => [p[0], p[1], i === 2 ? upper : i === 4 ? lower : mid]);
}

/**
 * The 468 mesh points refined by the iris net's two eyes (left, right), plus the 10 iris points:
 * 478 points, in mesh-crop pixels.
 */
export function refineWithIris(
  mesh: readonly Point3[],
  eyes: { left: Float32Array; right: Float32Array },
  boxes: { left: Corners; right: Corners },
  eyeSize: number,
): Point3[] {
  const raw = mesh.map((p) => [...p] as Point3);
  const left = eyePoints(eyes.left, boxes.left, eyeSize, true);
  const right = eyePoints(eyes.right, boxes.right, eyeSize, false);
  const depthDifference = (raw[EYE.left.lower0[0]] as Point3)[2] - (raw[EYE.right.lower0[0]] as Point3)[2];
  if (Math.abs(depthDifference) < 30) {
    replaceContours(raw, left, 'left');
    replaceContours(raw, right, 'right');
  } else if (depthDifference < 1) {
    // Looking aside, only the eye nearer the camera's lid line is trusted.
    replaceContours(raw, left, 'left', ['upper0', 'lower0']);
  } else {
    replaceContours(raw, right, 'right', ['upper0', 'lower0']);
  }
  return raw.concat(
    irisWithDepth(raw, left.slice(IRIS_FIRST), 'left'),
    irisWithDepth(raw, right.slice(IRIS_FIRST), 'right'),
  );
}

// --- head pose -----------------------------------------------------------------------------------

type Vec = [number, number, number];
const sub = (a: Vec, b: Vec): Vec => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const cross = (a: Vec, b: Vec): Vec => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];
const unit = (v: Vec): Vec => {
  const n = Math.hypot(v[0], v[1], v[2]);
  return [v[0] / n, v[1] / n, v[2] / n];
};

/**
 * Yaw, pitch and roll (radians) from the mesh as Human's calculateFaceAngle: axes through the top and
 * bottom (10, 152) and the sides (234, 454) of the face, as Euler angles (YZX).
 */
export function headPose(
  mesh: readonly Point3[],
  box: readonly [number, number, number, number],
  width: number,
  height: number,
  inputSize: number,
): { yaw: number; pitch: number; roll: number } {
  if (mesh.length < 300) return { yaw: 0, pitch: 0, roll: 0 };
  const scale = Math.max(box[2] * width, box[3] * height) / 1.5;
  const pt = (i: number): Vec => {
    const p = mesh[i] as Point3;
    return [p[0] / scale, p[1] / scale, p[2] / inputSize];
  };
  const yAxis = unit(sub(pt(152), pt(10)));
  let xAxis = unit(sub(pt(454), pt(234)));
  const zAxis = unit(cross(xAxis, yAxis));
  xAxis = cross(yAxis, zAxis);
  const [r00, , , r10, r11, r12, r20, r21, r22] = [...xAxis, ...yAxis, ...zAxis];
  let x: number;
  let y: number;
  let z: number;
  if (r10 < 1) {
    if (r10 > -1) {
      z = Math.atan2(r10, Math.sqrt(r00 * r00 + r20 * r20));
      y = Math.atan2(-r20, r00);
      x = Math.atan2(-r12, r11);
    } else {
      z = -Math.PI / 2;
      y = -Math.atan2(r21, r22);
      x = 0;
    }
  } else {
    z = Math.PI / 2;
    y = Math.atan2(r21, r22);
    x = 0;
  }
  const clean = (v: number) => (Number.isNaN(v) ? 0 : v);
  return { pitch: clean(-x), yaw: clean(-y), roll: clean(-z) };
}
