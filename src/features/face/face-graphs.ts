import { CROP_GRAPH_IDS, FACE_NETWORK_IDS } from '../../contracts/edge-steps.js';
import type { InferenceSession } from '../onnx-runtime.js';

export { CROP_GRAPH_IDS, FACE_NETWORK_IDS };

/**
 * The graphs the onnx face stage runs, by name, wherever it runs: the four networks converted from
 * @vladmandic/human and the crop graphs that feed them. In Node they come from the converter's cache
 * (face-networks.ts); in a viewer's browser (edge mode) from the server's graph routes, the same bytes.
 */

export type FaceNetworkId = (typeof FACE_NETWORK_IDS)[number];
export type CropGraphId = (typeof CROP_GRAPH_IDS)[number];
export type FaceGraphId = FaceNetworkId | CropGraphId;

export interface CropSizes {
  detector: number;
  mesh: number;
  iris: number;
  expression: number;
}

export const FACE_INPUT_SIZES: CropSizes = { detector: 256, mesh: 192, iris: 64, expression: 64 };

/** The expression net's last residual block, global-average-pooled into the holistic embedding. */
export const EMBEDDING_NODE = 'StatefulPartitionedCall/model_1/add_2/add';
export const PROBS_NODE = 'Identity';

/** Every session the face stage runs (the iris net is absent when the stage runs without it). */
export type FaceSessions = Record<FaceNetworkId, InferenceSession | undefined> &
  Record<CropGraphId, InferenceSession>;

/** ONNX Resize's region for a box [x1, y1, x2, y2] in pixels of a width x height image. */
export function roiOf(
  box: readonly [number, number, number, number],
  width: number,
  height: number,
): Float32Array {
  const [x1, y1, x2, y2] = box;
  return Float32Array.from([0, y1 / height, x1 / width, 0, 1, y2 / height, x2 / width, 1]);
}
