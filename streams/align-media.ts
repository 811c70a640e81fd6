import { asyncScheduler, Observable, type SchedulerLike, type Subscription } from 'rxjs';
import { AUDIO_SAMPLE_RATE, type MediaStep } from '../src/contracts/media-step.js';

/**
 * Pairs live video frames and audio chunks into analysis steps by media time, not arrival order.
 *
 * - Step k covers media time [k/rate, (k+1)/rate). Its frame is the earliest-timestamped frame inside
 *   that interval (what the offline decoder picks); its audio is the samples [k*n, (k+1)*n) of the
 *   session's audio timeline, n = 16000 / rate, placed by each chunk's timestamp.
 * - A modality is *settled* for step k once data past the step's end has arrived for it (so nothing
 *   earlier can still be missing, up to reordering), or once that stream has completed. A frame at the
 *   very start of step k settles step k's video at once: no frame in the step can be earlier. The
 *   WebRTC tap's frames all are (its ffmpeg emits one per step at k/rate), which saves them waiting a
 *   whole step for the next frame.
 * - Step k is emitted when both modalities are settled. If only one is, the other gets `maxWaitMs`
 *   (on the scheduler) to catch up; then the step goes without it: no frame (face coverage drops) or
 *   zero-padded audio with its true coverage. A producer that pauses therefore costs coverage, not time.
 * - Data for a step already emitted is late: dropped and counted (`stats.late`). Duplicates (a frame with
 *   the same timestamp, audio samples already filled) keep the first copy (`stats.duplicates`).
 * - At most `maxPendingSteps` steps are held: beyond that the oldest is forced out, so memory is bounded
 *   even if one stream stalls for good while the other floods.
 */

/** In steps: a frame this close to k/rate is at step k's start (timestamps are k/rate in floating point). */
const STEP_START_TOLERANCE = 1e-6;

export interface VideoFrame {
  /** Media time of the frame, seconds from the session's start. */
  t: number;
  /** RGB24, width x height x 3. */
  rgb: Uint8Array;
}

export interface AudioChunk {
  /** Media time of the first sample, seconds from the session's start. */
  t: number;
  /** 16 kHz mono samples in [-1, 1]. */
  samples: Float32Array;
}

export interface AlignOptions {
  rateHz: number;
  /** How long a settled modality waits for the other one, ms of scheduler time. */
  maxWaitMs?: number;
  maxPendingSteps?: number;
  scheduler?: SchedulerLike;
}

export interface AlignStats {
  steps: number;
  late: number;
  duplicates: number;
  /** Steps emitted without a frame / with incomplete audio because the wait ran out or a stream ended. */
  withoutFrame: number;
  partialAudio: number;
}

interface Pending {
  frame?: VideoFrame;
  audio?: Float32Array;
  filled?: Uint8Array;
  filledCount: number;
}

export function alignMedia(
  frames$: Observable<VideoFrame>,
  audio$: Observable<AudioChunk>,
  options: AlignOptions,
  stats: AlignStats = { steps: 0, late: 0, duplicates: 0, withoutFrame: 0, partialAudio: 0 },
): Observable<MediaStep> {
  const rate = options.rateHz;
  const perStep = Math.round(AUDIO_SAMPLE_RATE / rate);
  const maxWait = options.maxWaitMs ?? 500;
  const maxPending = options.maxPendingSteps ?? 50;
  const scheduler = options.scheduler ?? asyncScheduler;

  return new Observable<MediaStep>((subscriber) => {
    const pending = new Map<number, Pending>();
    /** Scheduler time at which each step was first settled by one modality. */
    const settledSince = new Map<number, number>();
    let next = 0;
    /** Exclusive horizons: every step below is settled for that modality by its own data. */
    let videoHorizon = 0;
    let audioHorizon = 0;
    let videoDone = false;
    let audioDone = false;
    let timer: Subscription | undefined;
    let timerDue = Number.POSITIVE_INFINITY;

    const slot = (k: number): Pending => {
      let p = pending.get(k);
      if (!p) {
        p = { filledCount: 0 };
        pending.set(k, p);
      }
      return p;
    };

    const emit = (k: number) => {
      const p = pending.get(k);
      pending.delete(k);
      settledSince.delete(k);
      const coverage = p?.filledCount ? p.filledCount / perStep : 0;
      if (!p?.frame) stats.withoutFrame++;
      if (coverage > 0 && coverage < 1) stats.partialAudio++;
      stats.steps++;
      subscriber.next({
        index: k,
        t: k / rate,
        ...(p?.frame ? { frame: p.frame.rgb } : {}),
        audio: p?.audio ?? new Float32Array(perStep),
        audioCoverage: coverage,
      });
    };

    const markSettled = (from: number, to: number) => {
      const now = scheduler.now();
      for (let k = Math.max(from, next); k < to; k++) if (!settledSince.has(k)) settledSince.set(k, now);
    };
    const settled = (horizon: number, done: boolean, k: number) => done || horizon > k;
    const finished = () => videoDone && audioDone && next >= Math.max(videoHorizon, audioHorizon);

    const pump = () => {
      const now = scheduler.now();
      while (!finished()) {
        const both = settled(videoHorizon, videoDone, next) && settled(audioHorizon, audioDone, next);
        const waitedOut = (settledSince.get(next) ?? Number.POSITIVE_INFINITY) + maxWait <= now;
        if (both || waitedOut || pending.size > maxPending) emit(next++);
        else break;
      }
      if (finished()) {
        timer?.unsubscribe();
        subscriber.complete();
        return;
      }
      // Wait for the other modality no longer than maxWait after one settled the next step.
      const due = (settledSince.get(next) ?? Number.POSITIVE_INFINITY) + maxWait;
      if (due !== timerDue) {
        timer?.unsubscribe();
        timerDue = due;
        if (Number.isFinite(due)) {
          timer = scheduler.schedule(
            () => {
              timerDue = Number.POSITIVE_INFINITY;
              pump();
            },
            Math.max(0, due - now),
          );
        }
      }
    };

    const onFrame = (frame: VideoFrame) => {
      const k = Math.floor(frame.t * rate + 1e-9);
      if (k < next || frame.t < 0) {
        stats.late++;
        return;
      }
      const p = slot(k);
      if (!p.frame) p.frame = frame;
      else if (frame.t === p.frame.t) stats.duplicates++;
      else if (frame.t < p.frame.t) p.frame = frame; // reordered: the earlier frame is the step's frame
      // A frame in step k settles the video of every step before k, and of k itself at its start.
      const horizon = Math.abs(frame.t * rate - k) < STEP_START_TOLERANCE ? k + 1 : k;
      if (horizon > videoHorizon) {
        markSettled(videoHorizon, horizon);
        videoHorizon = horizon;
      }
      pump();
    };

    const onAudio = (chunk: AudioChunk) => {
      const start = Math.round(chunk.t * AUDIO_SAMPLE_RATE);
      for (let i = 0; i < chunk.samples.length; ) {
        const sample = start + i;
        const k = Math.floor(sample / perStep);
        const offset = sample - k * perStep;
        const run = Math.min(perStep - offset, chunk.samples.length - i);
        if (k < next || sample < 0) {
          stats.late++;
          i += run;
          continue;
        }
        const p = slot(k);
        p.audio ??= new Float32Array(perStep);
        p.filled ??= new Uint8Array(perStep);
        for (let j = 0; j < run; j++) {
          if (p.filled[offset + j]) {
            stats.duplicates++;
            continue;
          }
          p.filled[offset + j] = 1;
          p.audio[offset + j] = chunk.samples[i + j] as number;
          p.filledCount++;
        }
        i += run;
      }
      const horizon = Math.floor((start + chunk.samples.length) / perStep);
      if (horizon > audioHorizon) {
        markSettled(audioHorizon, horizon);
        audioHorizon = horizon;
      }
      pump();
    };

    /** When a stream ends, the steps it has data for are settled too (their end will not come). */
    const lastStepWith = (has: (p: Pending) => boolean) =>
      Math.max(0, ...[...pending.entries()].filter(([, p]) => has(p)).map(([k]) => k + 1));

    const videoSub = frames$.subscribe({
      next: onFrame,
      error: (e: unknown) => subscriber.error(e),
      complete: () => {
        videoDone = true;
        videoHorizon = Math.max(
          videoHorizon,
          lastStepWith((p) => p.frame !== undefined),
        );
        pump();
      },
    });
    const audioSub = audio$.subscribe({
      next: onAudio,
      error: (e: unknown) => subscriber.error(e),
      complete: () => {
        audioDone = true;
        audioHorizon = Math.max(
          audioHorizon,
          lastStepWith((p) => p.filledCount > 0),
        );
        pump();
      },
    });
    return () => {
      videoSub.unsubscribe();
      audioSub.unsubscribe();
      timer?.unsubscribe();
      pending.clear();
    };
  });
}
