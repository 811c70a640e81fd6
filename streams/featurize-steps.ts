import { Observable, type OperatorFunction } from 'rxjs';
import type { FeatureStep } from '../src/contracts/feature-step.js';
import type { MediaStep } from '../src/contracts/media-step.js';

/**
 * Media steps in, feature steps out, in order, through a featurizer that may work on several steps at
 * once (the shared worker pool). Backpressure policy: when `maxInFlight` steps of this session are
 * already being analysed, a new step's frame is not analysed at all: the step goes on with its audio and
 * no face (its face flag 0, counted by `onFaceDropped`). Steps are never skipped or queued without bound,
 * so media time stays aligned and one slow session holds at most `maxInFlight` tasks of the shared pool.
 */

export interface StepFeaturizer {
  featurize(step: MediaStep): Promise<FeatureStep>;
}

export interface FeaturizeOptions {
  maxInFlight: number;
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
          if (inFlight >= options.maxInFlight && step.frame) {
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
