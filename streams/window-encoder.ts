import { EMOTIONS } from '../src/contracts/emotions.js';
import {
  type AnalysisMode,
  ESTIMATE_VERSION,
  type Estimate,
  namedIntensities,
} from '../src/contracts/estimate.js';
import type { Branch } from '../src/model/weights.js';
import type { GruOutput, GruStepper } from './gru-stepper.js';
import type { InferenceBatcher } from './inference-batcher.js';
import type { Window } from './window.js';

/**
 * Turns a window of GRU outputs into an estimate: the encoder over [regression token; window] per
 * branch, then the head. Also the final estimate, over the session's whole kept history.
 */

export interface EstimateContext {
  sessionId: string;
  roomId: string;
  /** name@version of the model package. */
  model: string;
  rateHz: number;
  analysis: AnalysisMode;
}

function stack(items: readonly GruOutput[], branch: Branch, width: number): Float32Array {
  const out = new Float32Array(items.length * width);
  items.forEach((item, i) => {
    out.set(item[branch], i * width);
  });
  return out;
}

export class WindowEncoder {
  readonly #batcher: InferenceBatcher;
  readonly #context: EstimateContext;
  #seq = 0;

  constructor(batcher: InferenceBatcher, context: EstimateContext) {
    this.#batcher = batcher;
    this.#context = context;
  }

  async #values(
    video: { gru: Float32Array; time: number },
    audio: { gru: Float32Array; time: number },
  ): Promise<Float32Array> {
    const [tv, ta] = await Promise.all([
      this.#batcher.encode('video', video.gru, video.time),
      this.#batcher.encode('audio', audio.gru, audio.time),
    ]);
    return this.#batcher.head(tv, ta);
  }

  #estimate(
    values: Float32Array,
    o: {
      final: boolean;
      start: number;
      end: number;
      steps: number;
      face: number;
      speech: number;
      readyAt: number;
    },
  ): Estimate {
    return {
      v: ESTIMATE_VERSION,
      sessionId: this.#context.sessionId,
      roomId: this.#context.roomId,
      seq: this.#seq++,
      windowStart: o.start,
      windowEnd: o.end,
      wallTime: new Date().toISOString(),
      intensities: namedIntensities(values),
      values: Array.from(values.subarray(0, EMOTIONS.length)),
      coverage: { face: o.steps ? o.face / o.steps : 0, speech: o.steps ? o.speech / o.steps : 0 },
      modalities: ['video', 'audio'],
      final: o.final,
      model: this.#context.model,
      analysis: this.#context.analysis,
      latencyMs: Math.max(0, performance.now() - o.readyAt),
      steps: o.steps,
    };
  }

  /** A running estimate over one window. */
  async encode(window: Window<GruOutput>): Promise<Estimate> {
    const items = window.items;
    const a = this.#batcher.architecture;
    const values = await this.#values(
      { gru: stack(items, 'video', a.video.hidden), time: items.length },
      { gru: stack(items, 'audio', a.audio.hidden), time: items.length },
    );
    const rate = this.#context.rateHz;
    return this.#estimate(values, {
      final: false,
      start: (items[0]?.index ?? 0) / rate,
      end: (window.last.index + 1) / rate,
      steps: items.length,
      face: items.filter((i) => i.face).length,
      speech: items.filter((i) => i.speech).length,
      readyAt: window.last.readyAt,
    });
  }

  /** The final estimate over everything the stepper kept; coverage over every step of the session. */
  async final(stepper: GruStepper): Promise<Estimate> {
    const readyAt = performance.now();
    const video = stepper.history('video');
    const audio = stepper.history('audio');
    const values = await this.#values(video, audio);
    const c = stepper.coverage;
    return this.#estimate(values, {
      final: true,
      start: (stepper.steps - video.time) / this.#context.rateHz,
      end: stepper.steps / this.#context.rateHz,
      steps: c.steps,
      face: c.face,
      speech: c.speech,
      readyAt,
    });
  }
}
