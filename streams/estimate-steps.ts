import { concat, concatMap, defer, EMPTY, from, type Observable, type OperatorFunction } from 'rxjs';
import type { Estimate } from '../src/contracts/estimate.js';
import type { FeatureStep } from '../src/contracts/feature-step.js';
import { GruStepper } from './gru-stepper.js';
import type { InferenceBatcher } from './inference-batcher.js';
import { latestWhileBusy } from './latest-while-busy.js';
import { onStride, slidingWindow } from './window.js';
import { type EstimateContext, WindowEncoder } from './window-encoder.js';

/**
 * Feature steps in, estimates out: the GRU of each branch stepped once per step, a sliding window of the
 * last W outputs, the encoder every S steps (and whenever `demand$` emits), and when the steps complete
 * a final estimate over the whole session. A running estimate therefore equals the offline computation
 * "GRU over the session so far, encoder over its last W outputs"; a session no longer than W (and up to
 * `maxFinalSteps` for the final one) gets exactly the reference model's output.
 *
 * If the encoder falls behind, a stride's window waits only while the previous one is encoded; a newer
 * window replaces it (latestWhileBusy) and `onDroppedEstimate` is told.
 */

export interface EstimateStepsOptions {
  /** W, in steps. */
  windowSteps: number;
  /** S, in steps. */
  strideSteps: number;
  /**
   * GRU outputs kept for the final estimate (the most recent ones); default 5 minutes. The encoder's
   * attention is quadratic in its length: 5 minutes (3,001 positions) needs ~145 MB per branch, 30 would
   * need ~5 GB.
   */
  maxFinalSteps?: number;
  /** Each emission asks for an estimate over the current window at once. */
  demand$?: Observable<unknown>;
  onDroppedEstimate?: () => void;
}

/** How much of a live session its final estimate covers by default (see maxFinalSteps). */
export const FINAL_SECONDS = 300;

export function estimateSteps(
  batcher: InferenceBatcher,
  context: EstimateContext,
  options: EstimateStepsOptions,
): OperatorFunction<FeatureStep, Estimate> {
  return (steps$) =>
    defer(() => {
      const stepper = new GruStepper(
        batcher,
        Math.max(options.windowSteps, options.maxFinalSteps ?? Math.round(FINAL_SECONDS * context.rateHz)),
      );
      const encoder = new WindowEncoder(batcher, context);
      const running$ = steps$.pipe(
        concatMap((step) => from(stepper.step(step))),
        slidingWindow(options.windowSteps),
        onStride(options.strideSteps, options.demand$),
        latestWhileBusy(
          (window) => encoder.encode(window),
          () => options.onDroppedEstimate?.(),
        ),
      );
      const final$ = defer(() => (stepper.steps > 0 ? from(encoder.final(stepper)) : EMPTY));
      return concat(running$, final$);
    });
}
