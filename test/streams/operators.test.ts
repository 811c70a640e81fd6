import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { latestWhileBusy } from '../../streams/latest-while-busy.js';
import { onStride, slidingWindow, type Window } from '../../streams/window.js';

const scheduler = () => new TestScheduler((actual, expected) => assert.deepEqual(actual, expected));
const item = (index: number) => ({ index });
const ids = (w: Window<{ index: number }>) => w.items.map((i) => i.index).join('');

describe('slidingWindow', () => {
  it('emits the last W items for every item, oldest first', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c-d-|', { a: item(0), b: item(1), c: item(2), d: item(3) });
      expectObservable(source.pipe(slidingWindow(2), map(ids))).toBe('-w-x-y-z-|', {
        w: '0',
        x: '01',
        y: '12',
        z: '23',
      });
    });
  });

  it('windows already emitted do not change afterwards', () => {
    const seen: Window<{ index: number }>[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('abc|', { a: item(0), b: item(1), c: item(2) });
      expectObservable(
        source.pipe(
          slidingWindow(2),
          map((w) => {
            seen.push(w);
            return w.items.length;
          }),
        ),
      ).toBe('xyy|', { x: 1, y: 2 });
    });
    assert.deepEqual(seen.map(ids), ['0', '01', '12']);
  });

  it('passes errors through and rejects a size below 1', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-a-#', { a: item(0) }, new Error('boom')).pipe(slidingWindow(3), map(ids))).toBe(
        '-x-#',
        { x: '0' },
        new Error('boom'),
      );
    });
    assert.throws(() => slidingWindow(0), TypeError);
  });
});

describe('onStride', () => {
  const windows = { a: 0, b: 1, c: 2, d: 3, e: 4, f: 5 };
  const asWindow = (i: number): Window<{ index: number }> => ({ last: item(i), items: [item(i)] });

  it('passes the windows that close each stride of S steps', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c-d-e-f-|', windows).pipe(map(asWindow));
      expectObservable(
        source.pipe(
          onStride(3),
          map((w) => w.last.index),
        ),
      ).toBe('-----x-----y-|', { x: 2, y: 5 });
    });
  });

  it('on demand: the latest window at once, between strides; demand after the end is ignored', () => {
    scheduler().run(({ cold, hot, expectObservable }) => {
      const source = cold('-a-b-c-d-|', windows).pipe(map(asWindow));
      const demand = hot('----x-------x', { x: 1 });
      expectObservable(
        source.pipe(
          onStride(2, demand),
          map((w) => w.last.index),
        ),
      ).toBe('---pq--r-|', { p: 1, q: 1, r: 3 });
    });
  });

  it('unsubscribing tears down the source', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-c-d-|', windows);
      expectObservable(source.pipe(map(asWindow), onStride(1)), '----!').toBe('-x-y', {
        x: asWindow(0),
        y: asWindow(1),
      });
      expectSubscriptions(source.subscriptions).toBe('^---!');
    });
  });
});

describe('latestWhileBusy', () => {
  it('runs one at a time and keeps only the newest waiting value', () => {
    const dropped: string[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-b-c-d------|');
      const result = source.pipe(
        latestWhileBusy(
          (v) => cold('-----(r|)', { r: v.toUpperCase() }),
          (v) => dropped.push(v),
        ),
      );
      // b waits while A runs and c replaces it; C runs when A is done, d waits for C.
      expectObservable(result).toBe('-----A----C----(D|)');
    });
    assert.deepEqual(dropped, ['b']);
  });

  it('reports what it drops', () => {
    const dropped: string[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      const result = cold('abc|').pipe(
        latestWhileBusy(
          (v) => cold('--(r|)', { r: v }),
          (v) => dropped.push(v),
        ),
      );
      expectObservable(result).toBe('--a-(c|)');
    });
    assert.deepEqual(dropped, ['b']);
  });

  it('an error in the work errors the result', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const result = cold('a|').pipe(latestWhileBusy(() => cold('-#', {}, new Error('x'))));
      expectObservable(result).toBe('-#', {}, new Error('x'));
    });
  });
});
