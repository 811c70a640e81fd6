import { ACTION_UNITS } from '../../contracts/feature-spec.js';

/**
 * Action-unit-like measures from the 468-point face mesh (MediaPipe topology). Each is a distance in a
 * face-fixed frame divided by the inter-ocular distance (IOD), so it does not change with the face's size
 * in the image, its roll, or (through the mesh's depth) most of its yaw and pitch. Each is oriented so it
 * grows as the action unit it stands for activates; none is calibrated to FACS intensity. Definitions:
 * docs/features.md.
 */

export type Point3 = readonly [number, number, number] | readonly number[];

/** MediaPipe face-mesh landmark indices (subject's right = image left). */
const L = {
  rEyeOuter: 33,
  rEyeInner: 133,
  rUpperLid: 159,
  rLowerLid: 145,
  lEyeOuter: 263,
  lEyeInner: 362,
  lUpperLid: 386,
  lLowerLid: 374,
  rBrowInner: 107,
  rBrowOuter: 70,
  lBrowInner: 336,
  lBrowOuter: 300,
  noseBridge: 168,
  subnasale: 2,
  rAla: 98,
  lAla: 327,
  rCheek: 50,
  lCheek: 280,
  mouthRight: 61,
  mouthLeft: 291,
  upperLipTop: 0,
  upperLipInner: 13,
  lowerLipInner: 14,
  lowerLipBottom: 17,
  chin: 152,
} as const;

export const MESH_POINTS = 468;

/** Eye aspect ratio of a fully open eye in this single-pair form; blink = 1 - EAR / this, clamped. */
const OPEN_EYE_RATIO = 0.3;

type Vec = [number, number, number];
const sub = (a: Vec, b: Vec): Vec => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const dot = (a: Vec, b: Vec) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: Vec, b: Vec): Vec => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];
const norm = (a: Vec) => Math.hypot(a[0], a[1], a[2]);
const scale = (a: Vec, s: number): Vec => [a[0] * s, a[1] * s, a[2] * s];
const mid = (a: Vec, b: Vec): Vec => [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2, (a[2] + b[2]) / 2];
const clamp01 = (x: number) => Math.min(1, Math.max(0, x));

/**
 * Face-fixed frame: origin between the eyes, x from the right eye to the left eye, y down towards the
 * mouth (orthogonalised), z out of the face; units of IOD.
 */
class FaceFrame {
  readonly #origin: Vec;
  readonly #x: Vec;
  readonly #y: Vec;
  readonly #z: Vec;
  readonly iod: number;

  constructor(mesh: readonly Point3[]) {
    const p = (i: number): Vec => [mesh[i]?.[0] ?? 0, mesh[i]?.[1] ?? 0, mesh[i]?.[2] ?? 0];
    const rEye = mid(p(L.rEyeOuter), p(L.rEyeInner));
    const lEye = mid(p(L.lEyeOuter), p(L.lEyeInner));
    this.#origin = mid(rEye, lEye);
    const across = sub(lEye, rEye);
    this.iod = norm(across) || 1;
    this.#x = scale(across, 1 / this.iod);
    const down = sub(mid(p(L.upperLipInner), p(L.lowerLipInner)), this.#origin);
    const y = sub(down, scale(this.#x, dot(down, this.#x)));
    this.#y = scale(y, 1 / (norm(y) || 1));
    this.#z = cross(this.#x, this.#y);
  }

  /** Landmark `i` in the face frame, in IOD units: [across, down, depth]. */
  at(mesh: readonly Point3[], i: number): Vec {
    const q = sub([mesh[i]?.[0] ?? 0, mesh[i]?.[1] ?? 0, mesh[i]?.[2] ?? 0], this.#origin);
    return [dot(q, this.#x) / this.iod, dot(q, this.#y) / this.iod, dot(q, this.#z) / this.iod];
  }
}

/**
 * The 17 measures in ACTION_UNITS order. `mesh` holds at least MESH_POINTS [x, y, z] points. `brows`,
 * measured in the image (brow-profile.ts), replaces the mesh's brow heights where it is defined.
 */
export function actionUnits(mesh: readonly Point3[], brows?: { inner: number; outer: number }): Float32Array {
  if (mesh.length < MESH_POINTS) return new Float32Array(ACTION_UNITS.length);
  const f = new FaceFrame(mesh);
  const v = (i: number) => f.at(mesh, i)[1]; // down
  const u = (i: number) => f.at(mesh, i)[0]; // across
  const w = (i: number) => f.at(mesh, i)[2]; // depth
  const both = (a: (s: 'r' | 'l') => number) => (a('r') + a('l')) / 2;
  const eye = (s: 'r' | 'l') =>
    s === 'r'
      ? { outer: L.rEyeOuter, inner: L.rEyeInner, upper: L.rUpperLid, lower: L.rLowerLid }
      : { outer: L.lEyeOuter, inner: L.lEyeInner, upper: L.lUpperLid, lower: L.lLowerLid };
  const brow = (s: 'r' | 'l') =>
    s === 'r' ? { inner: L.rBrowInner, outer: L.rBrowOuter } : { inner: L.lBrowInner, outer: L.lBrowOuter };
  const cornerLine = (s: 'r' | 'l') => (v(eye(s).outer) + v(eye(s).inner)) / 2;

  const meshInner = both((s) => v(eye(s).inner) - v(brow(s).inner));
  const meshOuter = both((s) => v(eye(s).outer) - v(brow(s).outer));
  const innerBrowRaise = Number.isFinite(brows?.inner) ? (brows?.inner as number) : meshInner;
  const outerBrowRaise = Number.isFinite(brows?.outer) ? (brows?.outer as number) : meshOuter;
  const browHeight = (innerBrowRaise + outerBrowRaise) / 2;
  const innerBrowGap = Math.abs(u(L.lBrowInner) - u(L.rBrowInner));
  const upperLid = both((s) => cornerLine(s) - v(eye(s).upper));
  const cheekToLid = both((s) => v(s === 'r' ? L.rCheek : L.lCheek) - v(eye(s).lower));
  const lowerLidDrop = both((s) => v(eye(s).lower) - cornerLine(s));
  const alaToBridge = (v(L.rAla) + v(L.lAla)) / 2 - v(L.noseBridge);
  const lipToNose = v(L.upperLipTop) - v(L.subnasale);
  const lipMid = (v(L.upperLipInner) + v(L.lowerLipInner)) / 2;
  const cornerElevation = lipMid - (v(L.mouthRight) + v(L.mouthLeft)) / 2;
  const cornerDepth = (w(L.mouthRight) + w(L.mouthLeft)) / 2 - (w(L.upperLipInner) + w(L.lowerLipInner)) / 2;
  const chinToLip = v(L.chin) - v(L.lowerLipBottom);
  const mouthWidth = Math.abs(u(L.mouthLeft) - u(L.mouthRight));
  const lipThickness = v(L.upperLipInner) - v(L.upperLipTop) + (v(L.lowerLipBottom) - v(L.lowerLipInner));
  const lipGap = v(L.lowerLipInner) - v(L.upperLipInner);
  const jaw = v(L.chin) - v(L.subnasale);
  const eyeRatio = both((s) => {
    const width = Math.abs(u(eye(s).outer) - u(eye(s).inner)) || 1;
    return (v(eye(s).lower) - v(eye(s).upper)) / width;
  });

  return Float32Array.from([
    innerBrowRaise, // AU01
    outerBrowRaise, // AU02
    -(browHeight + 0.5 * innerBrowGap), // AU04: brows down and together
    upperLid, // AU05
    -cheekToLid, // AU06: cheek rises towards the lower lid
    -lowerLidDrop, // AU07: lower lid rises towards the corner line
    -alaToBridge, // AU09: nose shortens
    -lipToNose, // AU10
    Math.max(0, cornerElevation), // AU12
    -cornerDepth, // AU14: corners pulled back into the face
    Math.max(0, -cornerElevation), // AU15
    -chinToLip, // AU17
    mouthWidth, // AU20
    -lipThickness, // AU23: lips thin as they press
    Math.max(0, lipGap), // AU25
    jaw, // AU26
    clamp01(1 - eyeRatio / OPEN_EYE_RATIO), // AU45
  ]);
}
