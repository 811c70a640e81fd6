/**
 * Which face a session follows. The tracked face keeps its identity while it is detected (best overlap
 * with its last box); only when it is gone does the largest, most central face take over. So with two
 * people in view the choice never flaps from step to step.
 */

/** Normalised [x, y, width, height] in 0..1 of the frame. */
export type Box = readonly [number, number, number, number];

export interface FaceCandidate {
  box: Box;
}

/** Overlap needed to call a detection the same face as the last step's. */
const SAME_FACE_IOU = 0.3;

export function iou(a: Box, b: Box): number {
  const x1 = Math.max(a[0], b[0]);
  const y1 = Math.max(a[1], b[1]);
  const x2 = Math.min(a[0] + a[2], b[0] + b[2]);
  const y2 = Math.min(a[1] + a[3], b[1] + b[3]);
  const inter = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
  const union = a[2] * a[3] + b[2] * b[3] - inter;
  return union > 0 ? inter / union : 0;
}

/** Size weighted by closeness to the centre of the frame. */
function prominence(box: Box): number {
  const cx = box[0] + box[2] / 2 - 0.5;
  const cy = box[1] + box[3] / 2 - 0.5;
  return box[2] * box[3] * (1 - Math.min(1, Math.hypot(cx, cy)));
}

/** Index of the candidate to follow, or -1 when there is none. */
export function chooseFace(candidates: readonly FaceCandidate[], previous: Box | undefined): number {
  if (candidates.length === 0) return -1;
  if (previous) {
    let best = -1;
    let bestIou = SAME_FACE_IOU;
    candidates.forEach((c, i) => {
      const o = iou(c.box, previous);
      if (o >= bestIou) {
        best = i;
        bestIou = o;
      }
    });
    if (best >= 0) return best;
  }
  let best = 0;
  candidates.forEach((c, i) => {
    if (prominence(c.box) > prominence((candidates[best] as FaceCandidate).box)) best = i;
  });
  return best;
}

/**
 * A face carried to the next step instead of running the detector: its box as the mesh last placed it
 * (Human's `boxRaw`: the detector's box, re-centred on the mesh) and the score of the detection that
 * found it.
 */
export interface TrackedFace {
  box: Box;
  boxScore: number;
}

export interface FaceTrackingOptions {
  /**
   * Run the detector at least once every this many frames (1: on every frame, no tracking). In between,
   * faces are followed from the previous frame's mesh; a lost face brings the detector back at once.
   */
  detectEvery?: number;
}

/** At 10 Hz: the detector once a second, so a face entering the view is found within a second. */
export const DEFAULT_DETECT_EVERY = 10;

/** One session's tracking state, advanced strictly in frame order. */
export interface TrackingState {
  faces: readonly TrackedFace[];
  framesSinceDetector: number;
}

export const initialTrackingState = (): TrackingState => ({ faces: [], framesSinceDetector: 0 });

/** Faces to follow in the next frame; none means: run the detector. */
export function facesToFollow(state: TrackingState, detectEvery: number): readonly TrackedFace[] {
  return state.framesSinceDetector + 1 >= detectEvery ? [] : state.faces;
}

/** The state after a frame: only faces that pass the detector's score threshold are worth following. */
export function afterFrame(
  state: TrackingState,
  frame: { detector: boolean; faces: readonly TrackedFace[] },
  minBoxScore: number,
): TrackingState {
  return {
    faces: frame.faces
      .filter((f) => f.boxScore >= minBoxScore)
      .map((f) => ({ box: f.box, boxScore: f.boxScore })),
    framesSinceDetector: frame.detector ? 0 : state.framesSinceDetector + 1,
  };
}
