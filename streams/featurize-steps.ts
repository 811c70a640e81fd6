import { Observable, type OperatorFunction } from 'rxjs';
import type { FeatureStep } from '../src/contracts/feature-step.js';
import type { MediaStep } from '../src/contracts/media-step.js';

/**
 * Media steps in, feature steps out, in order, through a featurizer that may work on several steps at
 * once (the shared worker pool). Backpressure policy: a new step's frame is not analysed at all (the
 * step goes on with its audio and no face, its face flag 0, counted by `onFaceDropped`) when
 * - the session's faces are more than `maxFaceDelayMs` behind (the featurizer's `faceDelayMs`: the age
 *   of its oldest face still waiting), or
 * - `maxInFlight` steps of this session are already being analysed (a backstop).
 * A burst of steps (media that arrived late, all at once) therefore keeps its faces while the machine
 * can analyse them in time; only a featurizer that falls behind sheds them. Steps are never skipped or
 * queued without bound, so media time stays aligned and one slow session holds at most `maxInFlight`
 * tasks of the shared pool.
 */

export interface StepFeaturizer {
  featurize(step: MediaStep): Promise<FeatureStep>;
  /** How far behind the featurizer's faces are (ms), if it can tell. */
  readonly faceDelayMs?: number;
}

export interface FeaturizeOptions {
  maxInFlight: number;
  /** While the faces are further behind than this (ms), frames are not analysed (needs `faceDelayMs`). */
  maxFaceDelayMs?: number;
  onFaceDropped?: (step: MediaStep) => void;
}

export function featurizeSteps(
  featurizer: StepFeaturizer,
  options: FeaturizeOptions,
): OperatorFunction<MediaStep, FeatureStep> {
  return (source) =>
    new Observable<FeatureStep>((subscriber) => {
      let inFlight = 0;
      let chain: Promise<void> = Promise.resolve();
      let closed = false;
      const subscription = source.subscribe({
        next: (step) => {
          let input = step;
          const late =
            options.maxFaceDelayMs !== undefined && (featurizer.faceDelayMs ?? 0) > options.maxFaceDelayMs;
          if (step.frame && (inFlight >= options.maxInFlight || late)) {
            const { frame: _dropped, ...rest } = step;
            input = rest;
            options.onFaceDropped?.(step);
          }
          inFlight++;
          const result = featurizer.featurize(input);
          result.catch(() => {});
          chain = chain.then(async () => {
            try {
              const features = await result;
              if (!closed) subscriber.next(features);
            } finally {
              inFlight--;
            }
          });
          chain.catch((error: unknown) => {
            if (!closed) {
              closed = true;
              subscriber.error(error);
            }
          });
        },
        error: (error: unknown) => {
          chain.finally(() => subscriber.error(error)).catch(() => {});
        },
        complete: () => {
          chain.then(
            () => subscriber.complete(),
            () => {},
          );
        },
      });
      return () => {
        closed = true;
        subscription.unsubscribe();
      };
    });
}
