/**
 * One analysis step's features, as the extractor produces them and the pipeline consumes them. Vectors
 * follow the extractor's feature spec (see feature-spec.ts); the scalar fields repeat what the pipeline
 * needs for coverage without knowing the layout.
 */
export interface FeatureStep {
  /** Step number from 0, at the spec's rate. */
  index: number;
  /** Start of the step in media seconds. */
  t: number;
  video: Float32Array;
  audio: Float32Array;
  face: {
    present: boolean;
    /** Detector box confidence of the best candidate (also when below the presence threshold). */
    confidence: number;
    /** Normalised [x, y, w, h] of the followed face. */
    box?: readonly [number, number, number, number];
  };
  /** Voice-activity probability over the step (0 without audio). */
  speech: number;
  /** Fraction of the step with decoded audio. */
  audioCoverage: number;
  /** False when the media had no frame for this step (no video track, or past its end). */
  hasFrame: boolean;
}
