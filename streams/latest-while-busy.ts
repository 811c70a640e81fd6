import { from, Observable, type ObservableInput, type OperatorFunction, type Subscription } from 'rxjs';

/**
 * Like concatMap, but lossy by design: while `project` runs, only the most recent value waits; older
 * waiting values are dropped (and reported to `onDrop`). So a consumer that falls behind skips to the
 * newest work instead of queueing without bound. Completes after the running and waiting work.
 *
 * ```
 * source:  a-b-c-d------|        latestWhileBusy(v => 5 frames of work)
 * result:  -----A----C----(D|)  b waits while A runs and c replaces it (b dropped); d waits for C
 * ```
 */
export function latestWhileBusy<T, R>(
  project: (value: T) => ObservableInput<R>,
  onDrop?: (value: T) => void,
): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((subscriber) => {
      let busy = false;
      let waiting: { value: T } | undefined;
      let sourceDone = false;
      let inner: Subscription | undefined;
      const run = (value: T) => {
        busy = true;
        inner = from(project(value)).subscribe({
          next: (result) => subscriber.next(result),
          error: (error: unknown) => subscriber.error(error),
          complete: () => {
            busy = false;
            if (waiting) {
              const next = waiting.value;
              waiting = undefined;
              run(next);
            } else if (sourceDone) subscriber.complete();
          },
        });
      };
      const subscription = source.subscribe({
        next: (value) => {
          if (!busy) run(value);
          else {
            if (waiting) onDrop?.(waiting.value);
            waiting = { value };
          }
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          sourceDone = true;
          if (!busy) subscriber.complete();
        },
      });
      return () => {
        subscription.unsubscribe();
        inner?.unsubscribe();
        waiting = undefined;
      };
    });
}
