import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { EriError, type ErrorCode } from '../errors.js';
import type { DistributiveOmit } from '../util/distributive-omit.js';
import { settleWorkers } from '../util/settle-workers.js';
import type {
  EncodeRequest,
  EngineOptions,
  GruSequenceRequest,
  GruSequenceResult,
  GruStepRequest,
  GruStepResult,
  HeadRequest,
  InferenceEngine,
} from './engine.js';
import type { GraphPaths } from './graph-cache.js';
import type { ModelArchitecture } from './weights.js';

/**
 * Inference in a pool of worker threads (piscina). onnxruntime's `run()` holds the calling thread for the
 * whole computation, so a server that ran it on its event loop would stall every socket while one
 * encoder runs; here the loop only posts tasks. Each worker loads the graphs from the on-disk cache once.
 */

export interface ModelRef {
  /** Identifies the graphs; a worker keeps one engine per key. */
  key: string;
  architecture: ModelArchitecture;
  graphs: GraphPaths;
  intraOpThreads: number;
}

export type InferenceTask =
  | { model: ModelRef; op: 'ping' }
  | { model: ModelRef; op: 'gruStep'; req: GruStepRequest }
  | { model: ModelRef; op: 'gruSequence'; req: GruSequenceRequest }
  | { model: ModelRef; op: 'encode'; req: EncodeRequest }
  | { model: ModelRef; op: 'head'; req: HeadRequest };

/** A task without its model reference. */
type TaskBody = DistributiveOmit<InferenceTask, 'model'>;

export type WorkerReply = { ok: true; value: unknown } | { ok: false; code: ErrorCode; message: string };

export interface PoolOptions extends EngineOptions {
  /** Worker threads; defaults to the number of cores. */
  workers?: number;
}

export class PooledEngine implements InferenceEngine {
  readonly #pool: Piscina<InferenceTask, WorkerReply>;
  readonly #model: ModelRef;
  #closed = false;

  constructor(model: Omit<ModelRef, 'intraOpThreads'>, options: PoolOptions = {}) {
    const workers = Math.max(1, options.workers ?? availableParallelism());
    this.#model = { ...model, intraOpThreads: options.intraOpThreads ?? 1 };
    this.#pool = new Piscina({
      filename: fileURLToPath(new URL('./inference-worker.js', import.meta.url)),
      minThreads: workers,
      maxThreads: workers,
      idleTimeout: Number.POSITIVE_INFINITY,
    });
  }

  get workers(): number {
    return this.#pool.options.maxThreads;
  }

  get parallelism(): number {
    return this.workers;
  }

  async #run<T>(task: TaskBody): Promise<T> {
    if (this.#closed) throw new EriError('ERI_ERR_CLOSED', 'the inference pool is closed');
    const reply = await this.#pool.run({ ...task, model: this.#model } as InferenceTask);
    if (!reply.ok) throw new EriError(reply.code, reply.message);
    return reply.value as T;
  }

  gruStep(req: GruStepRequest): Promise<GruStepResult> {
    return this.#run({ op: 'gruStep', req });
  }

  gruSequence(req: GruSequenceRequest): Promise<GruSequenceResult> {
    return this.#run({ op: 'gruSequence', req });
  }

  encode(req: EncodeRequest): Promise<Float32Array> {
    return this.#run({ op: 'encode', req });
  }

  head(req: HeadRequest): Promise<Float32Array> {
    return this.#run({ op: 'head', req });
  }

  async ping(): Promise<void> {
    await this.#run({ op: 'ping' } as never);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await settleWorkers(this.#pool as Piscina<InferenceTask, unknown>, this.workers, {
      model: this.#model,
      op: 'ping',
    });
    await this.#pool.destroy();
  }
}
