import { type Observable, type SchedulerLike, Subject, type Subscription, takeUntil, tap } from 'rxjs';
import { type AlignStats, type AudioChunk, alignMedia, type VideoFrame } from '../../streams/align-media.js';
import { estimateSteps } from '../../streams/estimate-steps.js';
import { featurizeSteps } from '../../streams/featurize-steps.js';
import type { InferenceBatcher } from '../../streams/inference-batcher.js';
import type { ErrorBody } from '../contracts/error-body.js';
import type { Estimate } from '../contracts/estimate.js';
import type { FeatureStep } from '../contracts/feature-step.js';
import { AUDIO_SAMPLE_RATE } from '../contracts/media-step.js';
import { EriError } from '../errors.js';
import type { FeatureAnalysis } from '../features/feature-analysis.js';
import { SessionFeaturizer } from '../features/featurizer.js';

/**
 * One viewer's live analysis: frames and audio in, estimates out. Lifecycle created -> running -> ended
 * (normal: the inputs completed or end() was called; client-gone; error). Ending stops the inputs, lets
 * the steps already taken finish, emits the final estimate over the whole session (not after an error),
 * then `ended`. Everything the session holds (subscriptions, timers, buffers) is released then; the
 * worker pool and the batcher are shared and stay.
 */

export type SessionState = 'created' | 'running' | 'ended';
/** 'shutdown': the server is stopping (SIGTERM); the session still gets its final estimate. */
export type EndReason = 'normal' | 'client-gone' | 'error' | 'shutdown';

export type SessionEvent =
  | { type: 'session.started'; sessionId: string; roomId: string; at: string; studyId?: string }
  | { type: 'estimate'; estimate: Estimate }
  | {
      type: 'session.ended';
      sessionId: string;
      roomId: string;
      at: string;
      reason: EndReason;
      error?: ErrorBody;
      stats?: SessionStats;
    };

/**
 * Told of every step as it happens (the server's metrics count and time them there, so a counter only
 * ever grows and a latency is one observation per step, not a summary of summaries).
 */
export interface SessionObserver {
  /** `captureToFeaturesSeconds` is absent for a step with nothing captured in it. */
  step(info: { captureToFeaturesSeconds?: number; face: boolean; withoutFrame: boolean }): void;
  faceStepDropped(): void;
  estimateDropped(): void;
}

/** The media a transport opened, for the server to analyse. */
export interface ServerAnalysisMedia {
  mode: 'server';
  frames$: Observable<VideoFrame>;
  audio$: Observable<AudioChunk>;
}

/** Feature steps computed at the edge (validated by the transport), in index order. */
export interface EdgeAnalysisInput {
  mode: 'edge';
  steps$: Observable<FeatureStep>;
}

export type SessionInput = ServerAnalysisMedia | EdgeAnalysisInput;

interface ServerAnalysisInput extends ServerAnalysisMedia {
  /** Size of the RGB frames (the ingest decodes to the analysis size). */
  frameSize: { width: number; height: number };
  pool: FeatureAnalysis;
}

export interface SessionOptions {
  id: string;
  roomId: string;
  input: ServerAnalysisInput | EdgeAnalysisInput;
  batcher: InferenceBatcher;
  /** name@version of the model. */
  model: string;
  rateHz: number;
  windowSeconds?: number;
  /** The study the publisher is a viewer in. */
  studyId?: string;
  /** Applied to every estimate before anyone gets it (a study viewer's stimulus position). */
  stamp?: (estimate: Estimate) => Estimate;
  strideSeconds?: number;
  /** How long one modality waits for the other (see alignMedia). */
  maxWaitMs?: number;
  /** Steps of this session analysed at once before frames are dropped (see featurizeSteps). */
  maxInFlight?: number;
  /** While this session's faces are further behind than this (ms), frames are dropped (see featurizeSteps). */
  maxFaceDelayMs?: number;
  scheduler?: SchedulerLike;
  observer?: SessionObserver;
}

export interface SessionStats {
  steps: number;
  /** Steps whose features hold a face. */
  faceSteps: number;
  estimates: number;
  droppedFaceSteps: number;
  droppedEstimates: number;
  lateInputs: number;
  duplicateInputs: number;
  /** Steps that had no video frame (no video, a paused camera, frames later than the wait). */
  stepsWithoutFrame: number;
  /** Wall-clock time elapsed minus media time analysed, at the last step (ms; grows when falling behind). */
  lagMs: number;
  /** Latency of the last estimate: its window's last step ready -> estimate made (ms). */
  lastEstimateLatencyMs: number;
  /**
   * Over the last 600 steps with a frame or audio in them: media time of a step's end -> its features
   * ready, ms, with media time 0 placed at the earliest arrival of any input (its arrival minus the media time it was captured at: a
   * frame's time, an audio chunk's end), so the start-up before the first frame (signalling, ICE,
   * decoder start) is not counted. A lower bound: the least-delayed input had some delay too. Covers
   * transport, decoding, alignment and feature extraction; not the sender's capture and encoding, which
   * the server cannot see.
   */
  captureToFeaturesMs: { median: number; p95: number };
}

const LATENCY_SAMPLES = 600;

/**
 * While a session's faces run further behind than this (ms), its new frames are not analysed: media
 * that arrives in a burst keeps its faces while the pool clears them in time, and an overloaded pool
 * sheds faces before a session falls seconds behind. Half of the 400 ms capture -> features budget,
 * the other half being transport and decoding.
 */
const MAX_FACE_DELAY_MS = 200;
/** A backstop on a session's steps in analysis, whatever the estimate above says. */
const MAX_STEPS_IN_FLIGHT = 16;

function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1) + 0.5))] as number;
}

export class Session {
  readonly id: string;
  readonly roomId: string;
  readonly #options: SessionOptions;
  readonly #events = new Subject<SessionEvent>();
  readonly #stop = new Subject<void>();
  readonly #demand = new Subject<void>();
  readonly #align: AlignStats = { steps: 0, late: 0, duplicates: 0, withoutFrame: 0, partialAudio: 0 };
  readonly #stats = {
    steps: 0,
    faceSteps: 0,
    estimates: 0,
    droppedFaceSteps: 0,
    droppedEstimates: 0,
    lagMs: 0,
    lastEstimateLatencyMs: 0,
  };
  #state: SessionState = 'created';
  #endReason: EndReason = 'normal';
  #endError: EriError | undefined;
  #subscription: Subscription | undefined;
  #startedAt = 0;
  /** performance.now() at media time 0, as the least-delayed input so far puts it. */
  #mediaZero = Number.POSITIVE_INFINITY;
  readonly #latencies: number[] = [];
  /** Steps without a frame already told to the observer. */
  #withoutFrameSeen = 0;

  constructor(options: SessionOptions) {
    this.id = options.id;
    this.roomId = options.roomId;
    this.#options = options;
  }

  get state(): SessionState {
    return this.#state;
  }

  /** Every event of the session; completes after `session.ended`. Subscribe before start() to miss none. */
  get events$(): Observable<SessionEvent> {
    return this.#events.asObservable();
  }

  get stats(): SessionStats {
    return {
      ...this.#stats,
      lateInputs: this.#align.late,
      duplicateInputs: this.#align.duplicates,
      stepsWithoutFrame: this.#align.withoutFrame,
      captureToFeaturesMs: { median: quantile(this.#latencies, 0.5), p95: quantile(this.#latencies, 0.95) },
    };
  }

  start(): void {
    if (this.#state !== 'created')
      throw new EriError('ERI_ERR_CLOSED', `session ${this.id} was already started`);
    const o = this.#options;
    this.#state = 'running';
    this.#startedAt = performance.now();
    this.#events.next({
      type: 'session.started',
      sessionId: this.id,
      roomId: this.roomId,
      at: new Date().toISOString(),
      ...(o.studyId ? { studyId: o.studyId } : {}),
    });
    const rate = o.rateHz;
    // A frame is captured at its time; an audio chunk only exists once its last sample is: its end.
    const arrived = (capturedAt: number) => {
      this.#mediaZero = Math.min(this.#mediaZero, performance.now() - capturedAt * 1000);
    };
    const input = o.input;
    const features$: Observable<FeatureStep> =
      input.mode === 'edge'
        ? // Computed at the edge: a step exists once it arrives, complete.
          input.steps$.pipe(
            tap<FeatureStep>((step) => arrived(step.t + 1 / rate)),
            takeUntil(this.#stop),
          )
        : this.#featurize(input, arrived);
    this.#subscription = features$
      .pipe(
        tap((step) => {
          // Edge steps say themselves whether their frame existed; the aligner counts the server's.
          if (input.mode === 'edge' && !step.hasFrame) this.#align.withoutFrame++;
          this.#stats.steps++;
          if (step.face.present) this.#stats.faceSteps++;
          const now = performance.now();
          const stepEnd = (step.t + 1 / rate) * 1000;
          this.#stats.lagMs = Math.max(0, now - this.#startedAt - stepEnd);
          // A step with nothing captured in it (before the first frame and audio, or while both are
          // paused) only fills the timeline: it has no capture to measure from.
          const captured = step.hasFrame || step.audioCoverage > 0;
          const latency = Math.max(0, now - this.#mediaZero - stepEnd);
          if (captured) {
            this.#latencies.push(latency);
            if (this.#latencies.length > LATENCY_SAMPLES) this.#latencies.shift();
          }
          const withoutFrame = this.#align.withoutFrame > this.#withoutFrameSeen;
          this.#withoutFrameSeen = this.#align.withoutFrame;
          o.observer?.step({
            ...(captured ? { captureToFeaturesSeconds: latency / 1000 } : {}),
            face: step.face.present,
            withoutFrame,
          });
        }),
        estimateSteps(
          o.batcher,
          { sessionId: this.id, roomId: this.roomId, model: o.model, rateHz: rate, analysis: input.mode },
          {
            windowSteps: Math.max(1, Math.round((o.windowSeconds ?? 30) * rate)),
            strideSteps: Math.max(1, Math.round((o.strideSeconds ?? 1) * rate)),
            demand$: this.#demand,
            onDroppedEstimate: () => {
              this.#stats.droppedEstimates++;
              o.observer?.estimateDropped();
            },
          },
        ),
      )
      .subscribe({
        next: (estimate) => {
          this.#stats.estimates++;
          this.#stats.lastEstimateLatencyMs = estimate.latencyMs;
          this.#events.next({ type: 'estimate', estimate: o.stamp ? o.stamp(estimate) : estimate });
        },
        error: (error: unknown) => this.#finish('error', error),
        complete: () => this.#finish(this.#endReason, this.#endError),
      });
  }

  /** The server's own analysis: media aligned into steps, then featurized through the pool. */
  #featurize(input: ServerAnalysisInput, arrived: (capturedAt: number) => void): Observable<FeatureStep> {
    const o = this.#options;
    const steps$ = alignMedia(
      input.frames$.pipe(
        tap<VideoFrame>((f) => arrived(f.t)),
        takeUntil(this.#stop),
      ),
      input.audio$.pipe(
        tap<AudioChunk>((c) => arrived(c.t + c.samples.length / AUDIO_SAMPLE_RATE)),
        takeUntil(this.#stop),
      ),
      {
        rateHz: o.rateHz,
        ...(o.maxWaitMs !== undefined ? { maxWaitMs: o.maxWaitMs } : {}),
        ...(o.scheduler ? { scheduler: o.scheduler } : {}),
      },
      this.#align,
    );
    return steps$.pipe(
      featurizeSteps(new SessionFeaturizer(input.pool, input.frameSize), {
        maxInFlight: o.maxInFlight ?? MAX_STEPS_IN_FLIGHT,
        maxFaceDelayMs: o.maxFaceDelayMs ?? MAX_FACE_DELAY_MS,
        onFaceDropped: (step) => {
          this.#stats.droppedFaceSteps++;
          o.observer?.faceStepDropped();
          // Nothing else holds a frame the pipeline sheds: its buffer can be filled again at once.
          if (step.frame) input.pool.frameBuffers?.release(step.frame);
        },
      }),
    );
  }

  /** Asks for an estimate over the current window now, between strides. */
  requestEstimate(): void {
    if (this.#state === 'running') this.#demand.next();
  }

  /**
   * Ends the session: the inputs stop, the final estimate follows, then `session.ended` with `reason`
   * (and `error`, for an input that failed, e.g. its media worker died). Idempotent.
   */
  end(reason: EndReason = 'normal', error?: EriError): void {
    if (this.#state === 'ended') return;
    this.#endError = error;
    if (this.#state === 'created') {
      this.#finish(reason, error);
      return;
    }
    this.#endReason = reason;
    this.#stop.next();
  }

  #finish(reason: EndReason, error?: unknown): void {
    if (this.#state === 'ended') return;
    this.#state = 'ended';
    this.#subscription?.unsubscribe();
    this.#stop.complete();
    this.#demand.complete();
    const e =
      error instanceof EriError
        ? error
        : error
          ? new EriError('ERI_ERR_INFERENCE', (error as Error).message ?? String(error))
          : undefined;
    this.#events.next({
      type: 'session.ended',
      sessionId: this.id,
      roomId: this.roomId,
      at: new Date().toISOString(),
      reason,
      ...(e ? { error: { code: e.code, message: e.message } } : {}),
      stats: this.stats,
    });
    this.#events.complete();
  }
}
