import { decodeEdgeStep, type EdgeAnalysis, type EdgeStepLayout } from '../contracts/edge-steps.js';
import { blockOffset, type FeatureSpec } from '../contracts/feature-spec.js';
import type { FeatureStep } from '../contracts/feature-step.js';
import { EriError } from '../errors.js';
import { RateLimit } from './limits.js';

/**
 * One edge publisher's feature steps, checked as untrusted input before the model sees them:
 * - the client's declared spec must be the model's (id, which carries the version, sizes and rate);
 * - each payload is decoded and bounded (contracts/edge-steps.ts);
 * - a step's time must fall on the spec's grid and come after the previous step's;
 * - steps arrive no faster than real time: the rate, with a burst of BURST_SECONDS to catch up after a
 *   network stall (the connection also refuses media time far ahead of its clock);
 * - steps the client skipped are filled as empty steps (no frame, no audio), so media time stays
 *   aligned and the window covers what it says; a gap longer than MAX_GAP_SECONDS is refused (one
 *   message never costs more than that many steps of work and memory).
 * The face block's flag and confidence are set from the step's own fields, so the two cannot disagree.
 */

const BURST_SECONDS = 2;
/** The longest stretch of skipped steps one step may fill: a viewer gone longer starts a new session. */
export const MAX_GAP_SECONDS = 60;
/** Media time within this fraction of a step of the grid counts as on it (float32 clients). */
const GRID_TOLERANCE = 1e-3;

export function checkEdgeAnalysis(declared: EdgeAnalysis, spec: FeatureSpec): void {
  const problems = [
    ...(declared.spec !== spec.id ? [`spec ${declared.spec} is not the model's ${spec.id}`] : []),
    ...(declared.videoDim !== spec.video.dim
      ? [`video dim ${declared.videoDim} is not ${spec.video.dim}`]
      : []),
    ...(declared.audioDim !== spec.audio.dim
      ? [`audio dim ${declared.audioDim} is not ${spec.audio.dim}`]
      : []),
    ...(declared.rateHz !== spec.rateHz ? [`rate ${declared.rateHz} Hz is not ${spec.rateHz} Hz`] : []),
  ];
  if (problems.length > 0)
    throw new EriError(
      'ERI_ERR_FEATURE_SPEC_MISMATCH',
      `edge features do not match this server's model: ${problems.join('; ')}`,
    );
}

export class EdgeStepReader {
  readonly #layout: EdgeStepLayout;
  readonly #rate: number;
  readonly #faceAt: number;
  readonly #limit: RateLimit;
  #next = 0;

  constructor(spec: FeatureSpec) {
    if (!spec.rateHz) throw new EriError('ERI_ERR_FEATURE_SPEC_MISMATCH', `spec ${spec.id} fixes no rate`);
    this.#rate = spec.rateHz;
    this.#layout = { videoDim: spec.video.dim, audioDim: spec.audio.dim };
    this.#faceAt = blockOffset(spec.video, 'face');
    this.#limit = new RateLimit(this.#rate, this.#rate * BURST_SECONDS);
  }

  /** The steps one message adds: the ones skipped before it (empty), then its own. */
  read(t: number, payload: Uint8Array): FeatureStep[] {
    const exact = t * this.#rate;
    const index = Math.round(exact);
    if (Math.abs(exact - index) > GRID_TOLERANCE)
      throw new EriError(
        'ERI_ERR_MALFORMED_MESSAGE',
        `step time ${t} s is not on the ${this.#rate} Hz step grid (a step starts at index / ${this.#rate})`,
      );
    if (index < this.#next)
      throw new EriError(
        'ERI_ERR_MALFORMED_MESSAGE',
        `step ${index} (t = ${t} s) is not after the previous step ${this.#next - 1}`,
      );
    if (index - this.#next > MAX_GAP_SECONDS * this.#rate)
      throw new EriError(
        'ERI_ERR_INVALID_STATE',
        `step ${index} follows step ${this.#next - 1} after more than ${MAX_GAP_SECONDS} s without steps: end this session and start a new one`,
      );
    if (!this.#limit.take())
      throw new EriError(
        'ERI_ERR_LIMIT',
        `feature steps faster than real time (${this.#rate} per second); step dropped`,
      );
    const decoded = decodeEdgeStep(payload, this.#layout);
    if (!decoded.ok) throw new EriError('ERI_ERR_MALFORMED_MESSAGE', decoded.message);
    const out: FeatureStep[] = [];
    for (; this.#next < index; this.#next++) out.push(this.#empty(this.#next));
    const step = decoded.step;
    if (!step.face.present) step.video.fill(0);
    step.video[this.#faceAt] = step.face.present ? 1 : 0;
    step.video[this.#faceAt + 1] = step.face.confidence;
    out.push({ index, t: index / this.#rate, ...step });
    this.#next = index + 1;
    return out;
  }

  #empty(index: number): FeatureStep {
    return {
      index,
      t: index / this.#rate,
      video: new Float32Array(this.#layout.videoDim),
      audio: new Float32Array(this.#layout.audioDim),
      face: { present: false, confidence: 0 },
      speech: 0,
      audioCoverage: 0,
      hasFrame: false,
    };
  }
}
