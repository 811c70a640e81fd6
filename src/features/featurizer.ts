import { blockOffset, type FeatureSpec } from '../contracts/feature-spec.js';
import type { FeatureStep } from '../contracts/feature-step.js';
import type { MediaStep } from '../contracts/media-step.js';
import { EriError } from '../errors.js';
import { type AudioState, initialAudioState } from './audio/audio-features.js';
import { DEFAULT_MIN_BOX_SCORE } from './face/face-vector.js';
import {
  afterFrame,
  type Box,
  chooseFace,
  DEFAULT_DETECT_EVERY,
  facesToFollow,
  initialTrackingState,
  type TrackingState,
} from './face/track.js';
import type { FaceResult, FeatureAnalysis } from './feature-analysis.js';

/**
 * Turns one session's media steps into feature steps, through the shared pool (or, in a viewer's
 * browser, the analyzers in its own thread). Everything that depends
 * on the past is applied strictly in step order: the faces tracked from frame to frame (each frame starts
 * from the previous frame's mesh; the detector runs every `detectEvery` frames or when a face is lost),
 * which face the session follows, the audio context and VAD state. Audio and faces of a step run in
 * parallel, and callers may have several steps in flight and still get the same result as one by one.
 *
 * Without a face the step still exists: every video value is 0 but the confidence, which holds the best
 * rejected detection's score (0 when nothing was detected).
 */

export interface StepTimings {
  /** Whether the face detector ran on this step's frame (else the faces were tracked). */
  detector: boolean;
  faceMs: number;
  detectMs: number;
  embeddingMs: number;
  localMs: number;
  audioMs: number;
}

export interface FeaturizedStep extends FeatureStep {
  timings: StepTimings;
}

export class SessionFeaturizer {
  readonly spec: FeatureSpec;
  readonly #pool: FeatureAnalysis;
  readonly #width: number;
  readonly #height: number;
  readonly #minBoxScore: number;
  readonly #detectEvery: number;
  #track: Box | undefined;
  #tracking: TrackingState = initialTrackingState();
  #faceChain: Promise<unknown> = Promise.resolve();
  /** When each frame whose face is not done yet was submitted (performance.now(), oldest first). */
  readonly #facesPending: number[] = [];
  #audioState: AudioState = initialAudioState();
  #audioChain: Promise<unknown> = Promise.resolve();
  #orderChain: Promise<unknown> = Promise.resolve();
  #expectedIndex = 0;

  constructor(pool: FeatureAnalysis, frame: { width: number; height: number }) {
    this.#pool = pool;
    this.spec = pool.spec;
    this.#width = frame.width;
    this.#height = frame.height;
    this.#minBoxScore = pool.options.face?.minBoxScore ?? DEFAULT_MIN_BOX_SCORE;
    this.#detectEvery = Math.max(1, pool.options.tracking?.detectEvery ?? DEFAULT_DETECT_EVERY);
  }

  /**
   * How far behind this session's faces are (ms): the age of the oldest face not done yet (0 when none
   * is waiting). It includes waiting for the shared pool, so it grows with the load, and it falls as
   * soon as the backlog clears; a burst of frames that the pool clears quickly keeps it small.
   */
  get faceDelayMs(): number {
    const oldest = this.#facesPending[0];
    return oldest === undefined ? 0 : performance.now() - oldest;
  }

  /** Starts a step; steps must be submitted in index order (results also resolve in that order). */
  featurize(step: MediaStep): Promise<FeaturizedStep> {
    if (step.index !== this.#expectedIndex) {
      throw new EriError(
        'ERI_ERR_INVALID_ARGUMENT',
        `step ${step.index} submitted, expected ${this.#expectedIndex}`,
      );
    }
    this.#expectedIndex++;
    const frame = step.frame;
    const submitted = performance.now();
    if (frame) this.#facesPending.push(submitted);
    const face: Promise<FaceResult | undefined> = frame
      ? this.#faceChain.then(async () => {
          try {
            const follow = facesToFollow(this.#tracking, this.#detectEvery);
            const result = await this.#pool.face(frame, this.#width, this.#height, follow);
            this.#tracking = afterFrame(
              this.#tracking,
              { detector: result.timings.detector, faces: result.faces },
              this.#minBoxScore,
            );
            return result;
          } finally {
            this.#facesPending.shift();
          }
        })
      : Promise.resolve(undefined);
    // A failed frame leaves the tracking as it was; the next frame carries on from there.
    this.#faceChain = face.catch(() => {});
    const audio = this.#audioChain.then(() =>
      this.#pool.audio(step.audio, step.audioCoverage, this.#audioState),
    );
    this.#audioChain = audio.then(
      (r) => {
        this.#audioState = r.state;
      },
      () => {},
    );
    // Awaited below, possibly after later steps settle: mark them handled so an early failure is not an
    // unhandled rejection in the meantime.
    face.catch(() => {});
    audio.catch(() => {});
    const result = this.#orderChain.then(async () => {
      const [faces, sound] = await Promise.all([face, audio]);
      return this.#assemble(step, faces, sound.vector, sound.speech, sound.totalMs);
    });
    this.#orderChain = result.catch(() => {});
    return result;
  }

  #assemble(
    step: MediaStep,
    faces: FaceResult | undefined,
    audio: Float32Array,
    speech: number,
    audioMs: number,
  ): FeaturizedStep {
    const spec = this.spec.video;
    const candidates = (faces?.faces ?? []).filter((f) => f.boxScore >= this.#minBoxScore);
    const chosen = candidates[chooseFace(candidates, this.#track)];
    const bestScore = Math.max(0, ...(faces?.faces ?? []).map((f) => f.boxScore));
    let video: Float32Array;
    if (chosen) {
      video = chosen.vector;
      this.#track = chosen.box;
    } else {
      video = new Float32Array(spec.dim);
      video[blockOffset(spec, 'face') + 1] = bestScore;
    }
    return {
      index: step.index,
      t: step.t,
      video,
      audio,
      face: {
        present: Boolean(chosen),
        confidence: chosen?.boxScore ?? bestScore,
        ...(chosen ? { box: chosen.box } : {}),
      },
      speech,
      audioCoverage: step.audioCoverage,
      hasFrame: Boolean(step.frame),
      timings: {
        detector: faces?.timings.detector ?? false,
        faceMs: faces?.totalMs ?? 0,
        detectMs: faces?.timings.detectMs ?? 0,
        embeddingMs: faces?.timings.embeddingMs ?? 0,
        localMs: faces?.timings.localMs ?? 0,
        audioMs,
      },
    };
  }
}
