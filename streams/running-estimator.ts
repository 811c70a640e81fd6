import { EMOTIONS } from '../src/contracts/emotions.js';
import { ESTIMATE_VERSION, type Estimate, namedIntensities } from '../src/contracts/estimate.js';
import type { FeatureStep } from '../src/contracts/feature-step.js';
import { EriError } from '../src/errors.js';
import type { InferenceEngine } from '../src/model/engine.js';
import type { Branch, ModelArchitecture } from '../src/model/weights.js';

/**
 * The live model for one session. Each feature step advances the GRU of each branch by one step (its
 * state is carried, never recomputed); the outputs go into a ring buffer of the last W steps; every S
 * steps the encoder runs over [regression token; buffer] per branch and the head turns the two tokens
 * into a running estimate. So a running estimate equals the offline computation "GRU over the whole
 * session so far, encoder over its last W outputs", and while the session is shorter than W it is
 * exactly the reference model on the prefix.
 *
 * The final estimate runs the encoder over every GRU output of the session (up to `maxFinalSteps`, the
 * most recent ones beyond that, since attention grows with the square of the length): for a clip that
 * is the reference's clip-level prediction, identical to `eri predict-features` on its features.
 */

export interface RunningEstimatorOptions {
  /** W: steps the transformer sees. */
  windowSteps: number;
  /** S: steps between running estimates. */
  strideSteps: number;
  /** Steps per second, to turn step numbers into media time. */
  rateHz: number;
  sessionId: string;
  roomId: string;
  /** Model name@version, copied into each estimate. */
  model: string;
  /** Steps kept for the final estimate (default 30 minutes at the rate). */
  maxFinalSteps?: number;
}

/**
 * The last `capacity` vectors of width `width`, oldest first on read. Storage grows on demand (doubling)
 * up to the capacity, so a long history bound costs memory only once a session is that long.
 */
export class VectorRing {
  readonly width: number;
  readonly capacity: number;
  #data: Float32Array;
  #next = 0;
  #count = 0;

  constructor(width: number, capacity: number) {
    this.width = width;
    this.capacity = capacity;
    this.#data = new Float32Array(width * Math.min(capacity, 64));
  }

  get length(): number {
    return this.#count;
  }

  get #allocated(): number {
    return this.#data.length / this.width;
  }

  push(vector: Float32Array): void {
    if (this.#count === this.#allocated && this.#count < this.capacity) {
      // Not wrapped yet (count < capacity), so the data is in order from 0 and copies over as is.
      const grown = new Float32Array(this.width * Math.min(this.capacity, this.#allocated * 2));
      grown.set(this.#data);
      this.#data = grown;
      this.#next = this.#count;
    }
    this.#data.set(vector.subarray(0, this.width), this.#next * this.width);
    this.#next = (this.#next + 1) % this.#allocated;
    this.#count = Math.min(this.#allocated, this.#count + 1);
  }

  /** The last `n` (default all) vectors, oldest first, as one [n, width] array. */
  last(n = this.#count): Float32Array {
    const size = this.#allocated;
    const take = Math.min(n, this.#count);
    const out = new Float32Array(take * this.width);
    const start = (this.#next - take + size) % size;
    const firstRun = Math.min(take, size - start);
    out.set(this.#data.subarray(start * this.width, (start + firstRun) * this.width), 0);
    if (firstRun < take)
      out.set(this.#data.subarray(0, (take - firstRun) * this.width), firstRun * this.width);
    return out;
  }
}

/** Per-step flags kept alongside the window, for coverage. */
interface StepFlags {
  face: boolean;
  speech: boolean;
}

class BranchState {
  h: Float32Array;
  readonly window: VectorRing;
  readonly history: VectorRing;

  constructor(arch: ModelArchitecture[Branch], windowSteps: number, historySteps: number) {
    this.h = new Float32Array(arch.gruLayers * arch.hidden);
    this.window = new VectorRing(arch.hidden, windowSteps);
    this.history = new VectorRing(arch.hidden, historySteps);
  }
}

export class RunningEstimator {
  readonly options: Required<RunningEstimatorOptions>;
  readonly #engine: InferenceEngine;
  readonly #branches: Record<Branch, BranchState>;
  readonly #flags: StepFlags[] = [];
  readonly #finalFlags = { steps: 0, face: 0, speech: 0 };
  #steps = 0;
  #seq = 0;
  #lastStepReadyAt = 0;
  #ended = false;

  constructor(engine: InferenceEngine, architecture: ModelArchitecture, options: RunningEstimatorOptions) {
    if (!(options.windowSteps > 0 && options.strideSteps > 0)) {
      throw new EriError('ERI_ERR_INVALID_ARGUMENT', 'window and stride must be positive step counts');
    }
    this.options = { maxFinalSteps: Math.round(30 * 60 * options.rateHz), ...options };
    this.#engine = engine;
    const history = Math.max(this.options.maxFinalSteps, options.windowSteps);
    this.#branches = {
      video: new BranchState(architecture.video, options.windowSteps, history),
      audio: new BranchState(architecture.audio, options.windowSteps, history),
    };
  }

  get steps(): number {
    return this.#steps;
  }

  /** Advances both GRUs by one step; resolves with a running estimate when one falls due. */
  async push(step: FeatureStep): Promise<Estimate | undefined> {
    if (this.#ended) throw new EriError('ERI_ERR_CLOSED', `session ${this.options.sessionId} has ended`);
    if (step.index !== this.#steps) {
      throw new EriError('ERI_ERR_INVALID_ARGUMENT', `step ${step.index} pushed, expected ${this.#steps}`);
    }
    this.#lastStepReadyAt = performance.now();
    await Promise.all(
      (['video', 'audio'] as const).map(async (branch) => {
        const state = this.#branches[branch];
        const out = await this.#engine.gruStep({ branch, batch: 1, x: step[branch], h: state.h });
        state.h = out.h;
        state.window.push(out.y);
        state.history.push(out.y);
      }),
    );
    const flags = { face: step.face.present, speech: step.speech > 0.5 };
    this.#flags.push(flags);
    if (this.#flags.length > this.options.windowSteps) this.#flags.shift();
    this.#finalFlags.steps++;
    this.#finalFlags.face += flags.face ? 1 : 0;
    this.#finalFlags.speech += flags.speech ? 1 : 0;
    this.#steps++;
    return this.#steps % this.options.strideSteps === 0 ? this.estimate() : undefined;
  }

  async #run(source: 'window' | 'history'): Promise<Float32Array> {
    const tokens = await Promise.all(
      (['video', 'audio'] as const).map(async (branch) => {
        const ring = this.#branches[branch][source];
        const time = ring.length;
        if (time === 0) {
          // No steps yet: the transformer over the regression token alone (see EriModel.branchToken).
          return this.#engine.encode({
            branch,
            batch: 1,
            time: 1,
            gru: new Float32Array(ring.width),
            mask: new Uint8Array(1),
          });
        }
        return this.#engine.encode({
          branch,
          batch: 1,
          time,
          gru: ring.last(),
          mask: new Uint8Array(time).fill(1),
        });
      }),
    );
    return this.#engine.head({
      batch: 1,
      tokenVideo: tokens[0] as Float32Array,
      tokenAudio: tokens[1] as Float32Array,
    });
  }

  #make(values: Float32Array, final: boolean, stepsCovered: number, face: number, speech: number): Estimate {
    const rate = this.options.rateHz;
    return {
      v: ESTIMATE_VERSION,
      sessionId: this.options.sessionId,
      roomId: this.options.roomId,
      seq: this.#seq++,
      windowStart: (this.#steps - stepsCovered) / rate,
      windowEnd: this.#steps / rate,
      wallTime: new Date().toISOString(),
      intensities: namedIntensities(values),
      values: Array.from(values.subarray(0, EMOTIONS.length)),
      coverage: {
        face: stepsCovered > 0 ? face / stepsCovered : 0,
        speech: stepsCovered > 0 ? speech / stepsCovered : 0,
      },
      modalities: ['video', 'audio'],
      final,
      model: this.options.model,
      latencyMs: Math.max(0, performance.now() - this.#lastStepReadyAt),
      steps: stepsCovered,
    };
  }

  /** A running estimate over the current window (also on demand, between strides). */
  async estimate(): Promise<Estimate> {
    const values = await this.#run('window');
    const face = this.#flags.filter((f) => f.face).length;
    const speech = this.#flags.filter((f) => f.speech).length;
    return this.#make(values, false, this.#flags.length, face, speech);
  }

  /** The final estimate over the whole session; the estimator accepts no steps afterwards. */
  async finish(): Promise<Estimate> {
    this.#ended = true;
    const values = await this.#run('history');
    const covered = Math.min(this.#steps, this.options.maxFinalSteps);
    // Coverage of the final estimate is over every step of the session.
    const f = this.#finalFlags;
    const estimate = this.#make(values, true, covered, 0, 0);
    estimate.coverage = { face: f.steps ? f.face / f.steps : 0, speech: f.steps ? f.speech / f.steps : 0 };
    return estimate;
  }
}
