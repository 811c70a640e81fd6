import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina, type TaskQueue } from 'piscina';
import { type FeatureSpec, faceAudioSpec } from '../contracts/feature-spec.js';
import { EriError, type ErrorCode } from '../errors.js';
import { settleWorkers } from '../util/settle-workers.js';
import type { AudioState } from './audio/audio-features.js';
import type { FaceAnalyzerOptions } from './face/face-vector.js';
import type { TrackedFace } from './face/track.js';
import type { AudioResult, FaceResult, FeatureAnalysis, FeatureWorkerOptions } from './feature-analysis.js';
import { FrameBuffers } from './frame-buffers.js';

export type { AudioResult, FaceResult, FeatureWorkerOptions } from './feature-analysis.js';

/**
 * The feature worker pool: sized to the cores and shared by every session of a server, so face models
 * load once per thread, not once per viewer. Frames are transferred to the worker, not copied.
 */

const MAX_QUEUED_TASKS = 4096;
/**
 * Face tasks a worker holds at once. More than one lets frames of several sessions share a network call
 * (NetworkBatcher), but they then advance in step and each waits for all: on the CPU provider a batch
 * costs as much per crop as one call each (BENCHMARKS.md), so the default is 1 there; on a GPU provider,
 * where batches are cheap, 8.
 */
export function defaultFaceTasksPerWorker(face: FaceAnalyzerOptions | undefined): number {
  const providers = face?.executionProviders ?? ['cpu'];
  return face?.backend !== 'tfjs' && providers[0] !== 'cpu' ? 8 : 1;
}

export type FeatureTask =
  | { kind: 'ping' }
  | { kind: 'warmup' }
  | { kind: 'face'; rgb: Uint8Array; width: number; height: number; follow: readonly TrackedFace[] }
  | { kind: 'audio'; samples: Float32Array; coverage: number; state: AudioState };

export type FeatureWorkerReply =
  | ({ ok: true; kind: 'face'; frame?: Uint8Array } & FaceResult)
  | ({ ok: true; kind: 'audio' } & AudioResult)
  | { ok: true; kind: 'warmup'; backend: string }
  | { ok: true; kind: 'ping' }
  | { ok: false; code: ErrorCode; message: string };

export interface FeaturePoolOptions extends FeatureWorkerOptions {
  /** Worker threads; defaults to the number of cores. */
  workers?: number;
  /** Face tasks each worker holds at once (frames in one worker share network calls). */
  tasksPerWorker?: number;
}

/**
 * The pool's queue, audio first: an audio step costs a few milliseconds, and queued behind face work it
 * would hold every step of its session back (a step completes when both its face and its audio are
 * done; faces can be dropped under load, audio never is). So an audio task waits at most for the face
 * task a worker is running.
 */
type Task = Parameters<TaskQueue['push']>[0];

class AudioFirstQueue implements TaskQueue {
  readonly #audio: Task[] = [];
  readonly #other: Task[] = [];

  #lane(task: Task): Task[] {
    return (task as Task & { task?: FeatureTask }).task?.kind === 'audio' ? this.#audio : this.#other;
  }
  get size(): number {
    return this.#audio.length + this.#other.length;
  }
  shift(): Task | null {
    return this.#audio.shift() ?? this.#other.shift() ?? null;
  }
  push(task: Task): void {
    this.#lane(task).push(task);
  }
  unshift(task: Task): void {
    this.#lane(task).unshift(task);
  }
  remove(task: Task): void {
    const lane = this.#lane(task);
    const at = lane.indexOf(task);
    if (at >= 0) lane.splice(at, 1);
  }
}

export class FeaturePool implements FeatureAnalysis {
  readonly #pool: Piscina<FeatureTask, FeatureWorkerReply>;
  readonly options: FeatureWorkerOptions;
  /** The frames' buffers, back from the workers: decoders feeding this pool take theirs from here. */
  readonly frameBuffers = new FrameBuffers();
  #closed = false;

  constructor(options: FeaturePoolOptions = {}) {
    const workers = Math.max(1, options.workers ?? availableParallelism());
    this.options = {
      ...(options.face ? { face: options.face } : {}),
      ...(options.tracking ? { tracking: options.tracking } : {}),
    };
    this.#pool = new Piscina<FeatureTask, FeatureWorkerReply>({
      filename: fileURLToPath(new URL('./worker.js', import.meta.url)),
      minThreads: workers,
      maxThreads: workers,
      concurrentTasksPerWorker: options.tasksPerWorker ?? defaultFaceTasksPerWorker(options.face),
      taskQueue: new AudioFirstQueue(),
      idleTimeout: Number.POSITIVE_INFINITY,
      workerData: this.options,
      // Callers bound what they submit (extract: steps in flight; live sessions: the pipeline's drop
      // policy); this is only a backstop against a caller that does not.
      maxQueue: MAX_QUEUED_TASKS,
    });
  }

  /** The feature spec this pool's settings produce. */
  get spec(): FeatureSpec {
    return faceAudioSpec(this.options.face);
  }

  get workers(): number {
    return this.#pool.options.maxThreads;
  }

  async #run(task: FeatureTask, transfer?: ArrayBuffer[]): Promise<FeatureWorkerReply & { ok: true }> {
    if (this.#closed) throw new EriError('ERI_ERR_CLOSED', 'the feature pool is closed');
    let reply: FeatureWorkerReply;
    try {
      reply = await this.#pool.run(task, transfer ? { transferList: transfer } : {});
    } catch (cause) {
      throw new EriError('ERI_ERR_FEATURES', `feature pool: ${(cause as Error).message}`, { cause });
    }
    if (!reply.ok) throw new EriError(reply.code, reply.message);
    return reply;
  }

  /** Loads the models in every worker; resolves with the backend in use. */
  async warmup(): Promise<string> {
    const replies = await Promise.all(
      Array.from({ length: this.workers }, () => this.#run({ kind: 'warmup' })),
    );
    const first = replies[0];
    return first?.kind === 'warmup' ? first.backend : 'unknown';
  }

  /**
   * Face candidates of one frame, following `follow` from the previous frame (none: run the detector).
   * The frame's buffer is transferred: the caller must not reuse it.
   */
  async face(
    rgb: Uint8Array,
    width: number,
    height: number,
    follow: readonly TrackedFace[] = [],
  ): Promise<FaceResult> {
    const transfer =
      rgb.byteOffset === 0 && rgb.byteLength === rgb.buffer.byteLength
        ? [rgb.buffer as ArrayBuffer]
        : undefined;
    const reply = await this.#run({ kind: 'face', rgb, width, height, follow }, transfer);
    if (reply.kind !== 'face') throw new EriError('ERI_ERR_FEATURES', 'internal: unexpected reply');
    const { frame, ok: _ok, kind: _kind, ...result } = reply;
    if (frame) this.frameBuffers.release(frame);
    return result;
  }

  async audio(samples: Float32Array, coverage: number, state: AudioState): Promise<AudioResult> {
    const reply = await this.#run({ kind: 'audio', samples, coverage, state });
    if (reply.kind !== 'audio') throw new EriError('ERI_ERR_FEATURES', 'internal: unexpected reply');
    return reply;
  }

  /** Resolves once a worker answers (readiness). */
  async ping(): Promise<void> {
    await this.#run({ kind: 'ping' });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await settleWorkers(this.#pool, this.workers, { kind: 'ping' });
    await this.#pool.destroy();
  }
}
