import {
  connect,
  endWith,
  filter,
  ignoreElements,
  type MonoTypeOperatorFunction,
  map,
  merge,
  type Observable,
  type OperatorFunction,
  scan,
  takeUntil,
  withLatestFrom,
} from 'rxjs';

/**
 * Windowing and stride: pure operators over any indexed items, so they are marble-tested without a model.
 */

export interface Indexed {
  index: number;
}

/** The last `size` items, oldest first, as of the item `last`. */
export interface Window<T> {
  last: T;
  items: readonly T[];
}

/**
 * Emits, for every item, the window of the last `size` items (a fresh array each time, so a window
 * already emitted never changes).
 *
 * ```
 * source:  --a--b--c--d--|        slidingWindow(2)
 * result:  --A--B--C--D--|        A=[a] B=[a,b] C=[b,c] D=[c,d]
 * ```
 */
export function slidingWindow<T>(size: number): OperatorFunction<T, Window<T>> {
  if (!(size >= 1)) throw new TypeError('slidingWindow: size must be at least 1');
  return (source) =>
    source.pipe(
      scan<T, T[]>((items, item) => {
        const next = items.length >= size ? items.slice(items.length - size + 1) : items.slice();
        next.push(item);
        return next;
      }, []),
      map((items) => ({ last: items[items.length - 1] as T, items })),
    );
}

/**
 * Passes the windows that close a stride (item index + 1 divisible by `stride`) and, whenever `demand$`
 * emits, the latest window at once (an on-demand estimate between strides).
 *
 * ```
 * source:  -w0-w1-w2-w3-|        onStride(2, demand$)   (wN: window whose last item has index N)
 * demand$: ---------x----
 * result:  ----w1---w2w3|
 * ```
 */
export function onStride<T extends Indexed>(
  stride: number,
  demand$?: Observable<unknown>,
): MonoTypeOperatorFunction<Window<T>> {
  if (!(stride >= 1)) throw new TypeError('onStride: stride must be at least 1');
  return connect((shared) => {
    const due = shared.pipe(filter((w) => (w.last.index + 1) % stride === 0));
    if (!demand$) return due;
    // On demand: the latest window, until the source completes (demand$ itself may never complete).
    const ended = shared.pipe(ignoreElements(), endWith(true));
    const onDemand = demand$.pipe(
      withLatestFrom(shared),
      map(([, w]) => w),
      takeUntil(ended),
    );
    return merge(due, onDemand);
  });
}
