/**
 * One analysis step's media, as the decoder (server) or a viewer's capture (edge mode) hands it to the
 * featurizer: both sides build steps with this shape and this sample rate.
 */

export const AUDIO_SAMPLE_RATE = 16_000;

/** Frames are analysed at this size (scaled to fit, letterboxed), on the server and at the edge. */
export const DEFAULT_ANALYSIS_SIZE = { width: 640, height: 480 } as const;

export interface MediaStep {
  index: number;
  /** Start of the step in media seconds. */
  t: number;
  /** RGB24 frame, width x height x 3; undefined when the clip has no video at this step. */
  frame?: Uint8Array;
  /** AUDIO_SAMPLE_RATE / rateHz mono samples in [-1, 1]; zeros where there is no audio. */
  audio: Float32Array;
  /** Fraction of the step's samples that came from the media (0 without audio). */
  audioCoverage: number;
}
