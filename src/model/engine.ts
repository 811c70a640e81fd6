import * as ort from 'onnxruntime-node';
import { EriError } from '../errors.js';
import { GRAPH_IDS, type GraphId } from './graphs.js';
import type { Branch, ModelArchitecture } from './weights.js';

/**
 * Runs the model's graphs. Two implementations share this interface: `LocalEngine` (onnxruntime in the
 * calling thread: for worker threads, tests and one-shot CLI work) and `PooledEngine` (a worker-thread
 * pool, so a server's event loop never waits on inference). Tensors travel as flat row-major arrays
 * with their dimensions alongside.
 */

export interface GruStepRequest {
  branch: Branch;
  batch: number;
  /** [batch, inputDim] */
  x: Float32Array;
  /** [gruLayers, batch, hidden] */
  h: Float32Array;
}

export interface GruStepResult {
  /** [batch, hidden]: the last GRU layer's output. */
  y: Float32Array;
  /** [gruLayers, batch, hidden] */
  h: Float32Array;
}

export interface GruSequenceRequest {
  branch: Branch;
  batch: number;
  time: number;
  /** [batch, time, inputDim] */
  x: Float32Array;
  /** [batch] real steps per row; the rest is padding. */
  lengths: Int32Array;
}

export interface GruSequenceResult {
  /** [batch, time, hidden], zeros past each row's length. */
  y: Float32Array;
  /** [gruLayers, batch, hidden]: the state after each row's last real step. */
  h: Float32Array;
}

export interface EncodeRequest {
  branch: Branch;
  batch: number;
  time: number;
  /** [batch, time, hidden] GRU outputs. */
  gru: Float32Array;
  /** [batch, time], 1 for a real step, 0 for padding. */
  mask: Uint8Array;
}

export interface HeadRequest {
  batch: number;
  /** [batch, hidden] */
  tokenVideo: Float32Array;
  /** [batch, hidden] */
  tokenAudio: Float32Array;
}

export interface InferenceEngine {
  /** Calls that can run at the same time (worker threads); 1 for an in-thread engine. */
  readonly parallelism?: number;
  gruStep(req: GruStepRequest): Promise<GruStepResult>;
  gruSequence(req: GruSequenceRequest): Promise<GruSequenceResult>;
  /** The regression token's output, [batch, hidden]. */
  encode(req: EncodeRequest): Promise<Float32Array>;
  /** Intensities after the sigmoid, [batch, outputs]. */
  head(req: HeadRequest): Promise<Float32Array>;
  /** Resolves once the engine can take work (readiness: a worker answers). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface EngineOptions {
  /** onnxruntime intra-op threads per session. One is best when sessions run in parallel workers. */
  intraOpThreads?: number;
}

export type GraphSources = Record<GraphId, Uint8Array | string>;

function checkLength(what: string, actual: number, expected: number): void {
  if (actual !== expected) {
    throw new EriError('ERI_ERR_INVALID_ARGUMENT', `${what} has ${actual} values, expected ${expected}`);
  }
}

function float32(out: ort.Tensor | undefined): Float32Array {
  if (!out) throw new EriError('ERI_ERR_INFERENCE', 'onnxruntime returned no output');
  return out.data as Float32Array;
}

export class LocalEngine implements InferenceEngine {
  readonly #arch: ModelArchitecture;
  readonly #sessions: Map<GraphId, ort.InferenceSession>;
  #closed = false;

  private constructor(arch: ModelArchitecture, sessions: Map<GraphId, ort.InferenceSession>) {
    this.#arch = arch;
    this.#sessions = sessions;
  }

  static async create(
    arch: ModelArchitecture,
    graphs: GraphSources,
    options: EngineOptions = {},
  ): Promise<LocalEngine> {
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: ['cpu'],
      intraOpNumThreads: options.intraOpThreads ?? 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    };
    const sessions = new Map<GraphId, ort.InferenceSession>();
    try {
      for (const id of GRAPH_IDS) {
        const source = graphs[id];
        // The encoders run over windows of varying length, up to a long session's final estimate, whose
        // attention alone needs ~145 MB per layer: onnxruntime's arena would keep that peak for good
        // (+1.3 GB RSS after two 5-minute sessions ended), so their memory goes back after each run
        // (measured: +48 instead of +320 MiB after a 3,000-step window; the same speed at 300 steps).
        const options = id.startsWith('encoder.')
          ? { ...sessionOptions, enableCpuMemArena: false }
          : sessionOptions;
        const session =
          typeof source === 'string'
            ? await ort.InferenceSession.create(source, options)
            : await ort.InferenceSession.create(source, options);
        sessions.set(id, session);
      }
    } catch (cause) {
      await Promise.all([...sessions.values()].map((s) => s.release().catch(() => {})));
      throw new EriError(
        'ERI_ERR_INFERENCE',
        `onnxruntime could not load a graph: ${(cause as Error).message}`,
        {
          cause,
        },
      );
    }
    return new LocalEngine(arch, sessions);
  }

  async #run(id: GraphId, feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.ReturnType> {
    if (this.#closed) throw new EriError('ERI_ERR_CLOSED', 'the inference engine is closed');
    const session = this.#sessions.get(id);
    if (!session) throw new EriError('ERI_ERR_INFERENCE', `no graph ${id}`);
    try {
      return await session.run(feeds);
    } catch (cause) {
      throw new EriError('ERI_ERR_INFERENCE', `${id} failed: ${(cause as Error).message}`, { cause });
    }
  }

  async gruStep(req: GruStepRequest): Promise<GruStepResult> {
    const a = this.#arch[req.branch];
    checkLength(`${req.branch} GRU step input`, req.x.length, req.batch * a.inputDim);
    checkLength(`${req.branch} GRU state`, req.h.length, a.gruLayers * req.batch * a.hidden);
    const out = await this.#run(`gru_step.${req.branch}`, {
      x: new ort.Tensor('float32', req.x, [req.batch, a.inputDim]),
      h: new ort.Tensor('float32', req.h, [a.gruLayers, req.batch, a.hidden]),
    });
    return { y: float32(out.y), h: float32(out.h_next) };
  }

  async gruSequence(req: GruSequenceRequest): Promise<GruSequenceResult> {
    const a = this.#arch[req.branch];
    checkLength(`${req.branch} GRU sequence input`, req.x.length, req.batch * req.time * a.inputDim);
    checkLength(`${req.branch} GRU lengths`, req.lengths.length, req.batch);
    const out = await this.#run(`gru_seq.${req.branch}`, {
      x: new ort.Tensor('float32', req.x, [req.batch, req.time, a.inputDim]),
      lengths: new ort.Tensor('int32', req.lengths, [req.batch]),
    });
    return { y: float32(out.y), h: float32(out.h) };
  }

  async encode(req: EncodeRequest): Promise<Float32Array> {
    const a = this.#arch[req.branch];
    checkLength(`${req.branch} encoder input`, req.gru.length, req.batch * req.time * a.hidden);
    checkLength(`${req.branch} encoder mask`, req.mask.length, req.batch * req.time);
    const out = await this.#run(`encoder.${req.branch}`, {
      gru: new ort.Tensor('float32', req.gru, [req.batch, req.time, a.hidden]),
      mask: new ort.Tensor('bool', req.mask, [req.batch, req.time]),
    });
    return float32(out.token);
  }

  async head(req: HeadRequest): Promise<Float32Array> {
    checkLength('video token', req.tokenVideo.length, req.batch * this.#arch.video.hidden);
    checkLength('audio token', req.tokenAudio.length, req.batch * this.#arch.audio.hidden);
    const out = await this.#run('head', {
      token_video: new ort.Tensor('float32', req.tokenVideo, [req.batch, this.#arch.video.hidden]),
      token_audio: new ort.Tensor('float32', req.tokenAudio, [req.batch, this.#arch.audio.hidden]),
    });
    return float32(out.intensities);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#sessions.values()].map((s) => s.release().catch(() => {})));
  }
}
