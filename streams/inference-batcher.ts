import type { InferenceEngine } from '../src/model/engine.js';
import type { Branch, ModelArchitecture } from '../src/model/weights.js';

/**
 * Micro-batching of the model's calls across the sessions of a server. Sessions ask for a GRU step or an
 * encoder run whenever their own data is ready; requests that fall due in the same turn of the event loop
 * are run as one batched onnxruntime call (a batch of 8 GRU steps costs about a quarter of 8 single
 * calls, see BENCHMARKS.md). Nothing waits on a timer: a batch is flushed on the next macrotask, or at
 * once when it reaches `maxBatch`, so batching never adds more than one event-loop turn of latency.
 *
 * Encoder requests are grouped by window length, so a batch never pays for padding (the usual case is
 * every session with a full window of W steps), and split across the engine's workers.
 */

export interface BatcherOptions {
  /** Largest batch per call. */
  maxBatch?: number;
  /**
   * Calls that can run at once (the engine's worker threads). Encoder work is compute-bound, so a batch
   * gains nothing over single calls on one core; windows due together are instead split into this many
   * batches, one per worker.
   */
  parallelism?: number;
}

export interface BatcherStats {
  gruCalls: number;
  gruSteps: number;
  encoderCalls: number;
  encoderWindows: number;
  headCalls: number;
}

interface Pending<Req, Res> {
  req: Req;
  resolve: (value: Res) => void;
  reject: (error: unknown) => void;
}

interface GruReq {
  x: Float32Array;
  h: Float32Array;
}

interface GruRes {
  y: Float32Array;
  h: Float32Array;
}

interface EncodeReq {
  gru: Float32Array;
  time: number;
}

interface HeadReq {
  tokenVideo: Float32Array;
  tokenAudio: Float32Array;
}

/** Queues requests of one kind and flushes them in batches. */
class Queue<Req, Res> {
  readonly #run: (batch: Req[]) => Promise<Res[]>;
  readonly #maxBatch: number;
  readonly #split: number;
  #pending: Pending<Req, Res>[] = [];
  #scheduled = false;

  /** `split`: a flush is divided into up to this many batches, to run on that many workers at once. */
  constructor(run: (batch: Req[]) => Promise<Res[]>, maxBatch: number, split = 1) {
    this.#run = run;
    this.#maxBatch = maxBatch;
    this.#split = Math.max(1, split);
  }

  push(req: Req): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      this.#pending.push({ req, resolve, reject });
      if (this.#pending.length >= this.#maxBatch) this.#flush();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const size = Math.min(this.#maxBatch, Math.ceil(this.#pending.length / this.#split));
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, size);
      this.#run(batch.map((p) => p.req)).then(
        (results) => {
          batch.forEach((p, i) => {
            p.resolve(results[i] as Res);
          });
        },
        (error: unknown) => {
          for (const p of batch) p.reject(error);
        },
      );
    }
  }
}

export class InferenceBatcher {
  readonly engine: InferenceEngine;
  readonly architecture: ModelArchitecture;
  readonly stats: BatcherStats = {
    gruCalls: 0,
    gruSteps: 0,
    encoderCalls: 0,
    encoderWindows: 0,
    headCalls: 0,
  };
  readonly #gru: Record<Branch, Queue<GruReq, GruRes>>;
  readonly #encode: Record<Branch, Map<number, Queue<EncodeReq, Float32Array>>>;
  readonly #head: Queue<HeadReq, Float32Array>;
  readonly #maxBatch: number;
  readonly #parallelism: number;

  constructor(engine: InferenceEngine, architecture: ModelArchitecture, options: BatcherOptions = {}) {
    this.engine = engine;
    this.architecture = architecture;
    this.#maxBatch = options.maxBatch ?? 32;
    this.#parallelism = Math.max(1, options.parallelism ?? engine.parallelism ?? 1);
    this.#gru = {
      video: new Queue((b) => this.#runGru('video', b), this.#maxBatch),
      audio: new Queue((b) => this.#runGru('audio', b), this.#maxBatch),
    };
    this.#encode = { video: new Map(), audio: new Map() };
    this.#head = new Queue((b) => this.#runHead(b), this.#maxBatch);
  }

  /** One GRU step of one session: x [inputDim], h [layers * hidden]. */
  gruStep(branch: Branch, x: Float32Array, h: Float32Array): Promise<GruRes> {
    return this.#gru[branch].push({ x, h });
  }

  /** The regression token over one session's window gru [time, hidden] (time 0: the token alone). */
  encode(branch: Branch, gru: Float32Array, time: number): Promise<Float32Array> {
    let queue = this.#encode[branch].get(time);
    if (!queue) {
      queue = new Queue((b) => this.#runEncode(branch, time, b), this.#maxBatch, this.#parallelism);
      this.#encode[branch].set(time, queue);
    }
    return queue.push({ gru, time });
  }

  head(tokenVideo: Float32Array, tokenAudio: Float32Array): Promise<Float32Array> {
    return this.#head.push({ tokenVideo, tokenAudio });
  }

  async #runGru(branch: Branch, batch: GruReq[]): Promise<GruRes[]> {
    const a = this.architecture[branch];
    const B = batch.length;
    this.stats.gruCalls++;
    this.stats.gruSteps += B;
    const x = new Float32Array(B * a.inputDim);
    const h = new Float32Array(a.gruLayers * B * a.hidden);
    batch.forEach((r, b) => {
      x.set(r.x, b * a.inputDim);
      // Session state is [layers, hidden]; the batched state is [layers, B, hidden].
      for (let l = 0; l < a.gruLayers; l++)
        h.set(r.h.subarray(l * a.hidden, (l + 1) * a.hidden), (l * B + b) * a.hidden);
    });
    const out = await this.engine.gruStep({ branch, batch: B, x, h });
    return batch.map((_, b) => {
      const state = new Float32Array(a.gruLayers * a.hidden);
      for (let l = 0; l < a.gruLayers; l++)
        state.set(out.h.subarray((l * B + b) * a.hidden, (l * B + b + 1) * a.hidden), l * a.hidden);
      return { y: out.y.slice(b * a.hidden, (b + 1) * a.hidden), h: state };
    });
  }

  async #runEncode(branch: Branch, time: number, batch: EncodeReq[]): Promise<Float32Array[]> {
    const hidden = this.architecture[branch].hidden;
    const B = batch.length;
    this.stats.encoderCalls++;
    this.stats.encoderWindows += B;
    // time 0 (no steps yet): one masked dummy step, so the transformer sees the regression token alone.
    const T = Math.max(1, time);
    const gru = new Float32Array(B * T * hidden);
    if (time > 0) for (const [b, r] of batch.entries()) gru.set(r.gru, b * T * hidden);
    const mask = new Uint8Array(B * T).fill(time > 0 ? 1 : 0);
    const tokens = await this.engine.encode({ branch, batch: B, time: T, gru, mask });
    return batch.map((_, b) => tokens.slice(b * hidden, (b + 1) * hidden));
  }

  async #runHead(batch: HeadReq[]): Promise<Float32Array[]> {
    const B = batch.length;
    this.stats.headCalls++;
    const hv = this.architecture.video.hidden;
    const ha = this.architecture.audio.hidden;
    const tokenVideo = new Float32Array(B * hv);
    const tokenAudio = new Float32Array(B * ha);
    batch.forEach((r, b) => {
      tokenVideo.set(r.tokenVideo, b * hv);
      tokenAudio.set(r.tokenAudio, b * ha);
    });
    const out = await this.engine.head({ batch: B, tokenVideo, tokenAudio });
    const E = this.architecture.outputs;
    return batch.map((_, b) => out.slice(b * E, (b + 1) * E));
  }
}
