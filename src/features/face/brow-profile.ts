import type { Point3 } from './action-units.js';

/**
 * Brow height read from the image rather than from the mesh. The face mesh regresses brows close to a
 * neutral template (on MEAD "surprised" clips it places them *lower* than on the same actor's neutral
 * clips), while in the pixels a raised brow is plain: a dark band moving up the forehead. So for each
 * brow, a strip is walked from just above the eye towards the forehead, along the face's own "up"
 * direction (roll-compensated), and the brow's height is the darkness-weighted centroid of that strip.
 * Heights are in inter-ocular distances.
 */

const START = 0.16;
const END = 0.75;
const STEPS = 60;
const HALF_WIDTH = 0.06;
const ACROSS_SAMPLES = 5;

interface V2 {
  x: number;
  y: number;
}

function gray(rgb: Uint8Array, width: number, height: number, x: number, y: number): number {
  const xi = Math.min(width - 1, Math.max(0, Math.round(x)));
  const yi = Math.min(height - 1, Math.max(0, Math.round(y)));
  const i = (yi * width + xi) * 3;
  return 0.299 * (rgb[i] as number) + 0.587 * (rgb[i + 1] as number) + 0.114 * (rgb[i + 2] as number);
}

/** Darkness-weighted height of the band above `anchor`, or NaN when the strip has no contrast. */
function bandHeight(
  rgb: Uint8Array,
  width: number,
  height: number,
  anchor: V2,
  up: V2,
  across: V2,
  iod: number,
): number {
  const profile = new Float64Array(STEPS);
  for (let k = 0; k < STEPS; k++) {
    const s = (START + ((END - START) * k) / (STEPS - 1)) * iod;
    let sum = 0;
    for (let j = 0; j < ACROSS_SAMPLES; j++) {
      const t = (-HALF_WIDTH + (2 * HALF_WIDTH * j) / (ACROSS_SAMPLES - 1)) * iod;
      sum += gray(rgb, width, height, anchor.x + up.x * s + across.x * t, anchor.y + up.y * s + across.y * t);
    }
    profile[k] = sum / ACROSS_SAMPLES;
  }
  let mean = 0;
  for (const v of profile) mean += v;
  mean /= STEPS;
  let weight = 0;
  let moment = 0;
  for (let k = 0; k < STEPS; k++) {
    const w = Math.max(0, mean - (profile[k] as number));
    weight += w;
    moment += w * k;
  }
  if (weight < 1e-6) return Number.NaN;
  return START + ((END - START) * (moment / weight)) / (STEPS - 1);
}

export interface BrowHeights {
  inner: number;
  outer: number;
}

/** Mean inner and outer brow heights of both brows; NaN where the image gives no contrast. */
export function browHeights(
  rgb: Uint8Array,
  width: number,
  height: number,
  mesh: readonly Point3[],
): BrowHeights {
  const p = (i: number): V2 => ({ x: mesh[i]?.[0] ?? 0, y: mesh[i]?.[1] ?? 0 });
  const midOf = (a: V2, b: V2): V2 => ({ x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 });
  const rOuter = p(33);
  const rInner = p(133);
  const lOuter = p(263);
  const lInner = p(362);
  const rEye = midOf(rOuter, rInner);
  const lEye = midOf(lOuter, lInner);
  const dx = lEye.x - rEye.x;
  const dy = lEye.y - rEye.y;
  const iod = Math.hypot(dx, dy) || 1;
  const across = { x: dx / iod, y: dy / iod };
  // Perpendicular to the eye line, pointing away from the mouth.
  let up = { x: across.y, y: -across.x };
  const mouth = midOf(p(13), p(14));
  const eyes = midOf(rEye, lEye);
  if (up.x * (eyes.x - mouth.x) + up.y * (eyes.y - mouth.y) < 0) up = { x: -up.x, y: -up.y };
  const toward = (from: V2, to: V2, f: number): V2 => ({
    x: from.x + (to.x - from.x) * f,
    y: from.y + (to.y - from.y) * f,
  });
  const band = (anchor: V2) => bandHeight(rgb, width, height, anchor, up, across, iod);
  // Inner brows sit above the inner eye corners; outer ones above a point a quarter in from the outer corners.
  const inner = (band(rInner) + band(lInner)) / 2;
  const outer = (band(toward(rOuter, rInner, 0.25)) + band(toward(lOuter, lInner, 0.25))) / 2;
  return { inner, outer };
}
