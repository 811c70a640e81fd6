import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { MediaStep } from '../../src/contracts/media-step.js';
import { type AlignStats, type AudioChunk, alignMedia, type VideoFrame } from '../../streams/align-media.js';

// Steps at 10 Hz; audio in 1600-sample steps. A step prints as "k:f<frame id>/<audio coverage>".
const RATE = 10;
const frame = (t: number, id: number): VideoFrame => ({ t, rgb: Uint8Array.of(id) });
const audio = (t: number, seconds: number, value = 0.5): AudioChunk => ({
  t,
  samples: new Float32Array(Math.round(seconds * 16000)).fill(value),
});
const show = (s: MediaStep) => `${s.index}:${s.frame ? `f${s.frame[0]}` : '-'}/${s.audioCoverage.toFixed(2)}`;
const scheduler = () => new TestScheduler((actual, expected) => assert.deepEqual(actual, expected));

function stats(): AlignStats {
  return { steps: 0, late: 0, duplicates: 0, withoutFrame: 0, partialAudio: 0 };
}

describe('alignMedia', () => {
  it('pairs frames and audio by media time, not arrival order', () => {
    scheduler().run(({ cold, expectObservable }) => {
      // Audio for two steps arrives first, then the frames of steps 0, 1 and 2.
      const frames = cold('---a-b-c|', { a: frame(0.01, 1), b: frame(0.12, 2), c: frame(0.21, 3) });
      const sound = cold('-x------|', { x: audio(0, 0.2) });
      const steps = alignMedia(frames, sound, { rateHz: RATE }).pipe(map(show));
      expectObservable(steps).toBe('-----a-b(c|)', { a: '0:f1/1.00', b: '1:f2/1.00', c: '2:f3/0.00' });
    });
  });

  it("a frame at a step's very start settles its video at once; one later in the step waits for the next", () => {
    scheduler().run(({ cold, expectObservable }) => {
      // The tap's frames sit at k/10 exactly (0.1 * 3 is 0.30000000000000004 in floating point).
      const frames = cold('a-b---c|', { a: frame(0, 1), b: frame(0.1 * 3, 2), c: frame(0.45, 3) });
      const sound = cold('-x------|', { x: audio(0, 0.5) });
      const steps = alignMedia(frames, sound, { rateHz: RATE }).pipe(map(show));
      // Step 0 as soon as its audio is there (frame 0 was at its start); steps 1-2 have no frame of their
      // own and are settled by the frame of step 3, which is at its start: 1, 2 and 3 go together; step 4's
      // frame is not at its start, so step 4 waits for the end of the stream.
      expectObservable(steps).toBe('-a(bcd)e|', {
        a: '0:f1/1.00',
        b: '1:-/1.00',
        c: '2:-/1.00',
        d: '3:f2/1.00',
        e: '4:f3/1.00',
      });
    });
  });

  it('within a step, a reordered earlier frame wins; a duplicate is counted', () => {
    const s = stats();
    scheduler().run(({ cold, expectObservable }) => {
      const frames = cold('abcd|', {
        a: frame(0.05, 1),
        b: frame(0.01, 2),
        c: frame(0.01, 3),
        d: frame(0.1, 4),
      });
      const sound = cold('----(x|)', { x: audio(0, 0.2) });
      expectObservable(alignMedia(frames, sound, { rateHz: RATE }, s).pipe(map(show))).toBe('----(ab|)', {
        a: '0:f2/1.00',
        b: '1:f4/1.00',
      });
    });
    assert.equal(s.duplicates, 1);
  });

  it('a stalled modality is waited for at most maxWaitMs, then the step goes without it', () => {
    const s = stats();
    scheduler().run(({ cold, hot, expectObservable }) => {
      // Video runs on; audio covers step 0 only and then stalls (never completes). The frames are
      // inside their steps (a webcam's timestamps), so each settles the step before it.
      const frames = cold('a 99ms b 99ms c 99ms d', {
        a: frame(0.01, 1),
        b: frame(0.11, 2),
        c: frame(0.21, 3),
        d: frame(0.31, 4),
      });
      const sound = hot('x', { x: audio(0, 0.1) });
      const steps = alignMedia(frames, sound, { rateHz: RATE, maxWaitMs: 150 }, s).pipe(map(show));
      // Step 0 has both at 100 ms (when frame b settles it); steps 1 and 2 are released 150 ms after
      // their video settled (at 200 and 300 ms), without audio.
      expectObservable(steps, '^ 500ms !').toBe('100ms a 249ms b 99ms c', {
        a: '0:f1/1.00',
        b: '1:f2/0.00',
        c: '2:f3/0.00',
      });
    });
    assert.equal(s.withoutFrame, 0);
  });

  it('data for a step already emitted is late and dropped', () => {
    const s = stats();
    scheduler().run(({ cold, expectObservable }) => {
      const frames = cold('a-b----c|', { a: frame(0.01, 1), b: frame(0.11, 2), c: frame(0.05, 9) });
      const sound = cold('x-----y-|', { x: audio(0, 0.1), y: audio(0.1, 0.1) });
      expectObservable(alignMedia(frames, sound, { rateHz: RATE }, s).pipe(map(show))).toBe('--a-----(b|)', {
        a: '0:f1/1.00',
        b: '1:f2/1.00',
      });
    });
    assert.equal(s.late, 1);
  });

  it('when both streams end, the remaining steps come out (partial audio has its true coverage)', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const frames = cold('a|', { a: frame(0.01, 1) });
      const sound = cold('x|', { x: audio(0, 0.25) });
      expectObservable(alignMedia(frames, sound, { rateHz: RATE }).pipe(map(show))).toBe('-(abc|)', {
        a: '0:f1/1.00',
        b: '1:-/1.00',
        c: '2:-/0.50',
      });
    });
  });

  it('a session with only audio: steps follow the audio', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const frames = cold<VideoFrame>('|');
      const sound = cold('-x-y|', { x: audio(0, 0.1), y: audio(0.1, 0.1) });
      expectObservable(alignMedia(frames, sound, { rateHz: RATE }).pipe(map(show))).toBe('-a-b|', {
        a: '0:-/1.00',
        b: '1:-/1.00',
      });
    });
  });

  it('memory is bounded: beyond maxPendingSteps the oldest step is forced out', () => {
    scheduler().run(({ cold, expectObservable }) => {
      // Video far ahead of an audio stream that never arrives nor ends, without a wait limit in reach.
      const frames = cold('(abcd)', { a: frame(0, 1), b: frame(0.1, 2), c: frame(0.2, 3), d: frame(0.3, 4) });
      const sound = cold<AudioChunk>('-');
      const steps = alignMedia(frames, sound, { rateHz: RATE, maxPendingSteps: 2, maxWaitMs: 1e9 }).pipe(
        map(show),
      );
      // Four steps pending, two allowed: the two oldest go out at once.
      expectObservable(steps, '^ 10ms !').toBe('(ab)', { a: '0:f1/0.00', b: '1:f2/0.00' });
    });
  });

  it('unsubscribing releases the inputs and the timer', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const frames = cold('a-b-c-d-e', {
        a: frame(0.01, 1),
        b: frame(0.11, 2),
        c: frame(0.21, 3),
        d: frame(0.31, 4),
        e: frame(0.41, 5),
      });
      const sound = cold<AudioChunk>('-');
      expectObservable(
        alignMedia(frames, sound, { rateHz: RATE, maxWaitMs: 1 }).pipe(map(show)),
        '^---!',
      ).toBe('---a', { a: '0:f1/0.00' });
      expectSubscriptions(frames.subscriptions).toBe('^---!');
      expectSubscriptions(sound.subscriptions).toBe('^---!');
    });
  });
});
