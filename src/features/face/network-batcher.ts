import type { InferenceSession, OnnxRuntime } from '../onnx-runtime.js';

/**
 * Runs one network for every caller in a worker that needs it in the same event-loop turn, as one call:
 * the crops of all sessions whose frames the worker is analysing go through the mesh (or iris, or
 * expression) net together, which costs less per crop than one call each (BENCHMARKS.md).
 *
 * A batch never waits for more work: it is flushed on the next turn with whatever is queued, so batching
 * adds no delay when the worker is idle and fills up only when frames queue anyway. It holds at most
 * `maxBatch` items, which bounds how long one call can hold a step back.
 */

export interface BatchedOutput {
  dims: readonly number[];
  data: Float32Array;
}

interface Pending {
  data: Float32Array;
  count: number;
  resolve(outputs: Record<string, BatchedOutput>): void;
  reject(error: unknown): void;
}

/** After the current turn's callbacks (Node: setImmediate; a browser has only microtasks for it). */
const nextTurn: (run: () => void) => void = globalThis.setImmediate ?? queueMicrotask;

export class NetworkBatcher {
  readonly #runtime: OnnxRuntime;
  readonly #session: InferenceSession;
  readonly #input: string;
  readonly #itemDims: readonly number[];
  readonly #maxBatch: number;
  #pending: Pending[] = [];
  #scheduled = false;
  #calls = 0;
  #items = 0;

  /** @param itemDims one item's dimensions, without the batch. */
  constructor(
    runtime: OnnxRuntime,
    session: InferenceSession,
    itemDims: readonly number[],
    maxBatch: number,
  ) {
    this.#runtime = runtime;
    this.#session = session;
    this.#input = session.inputNames[0] as string;
    this.#itemDims = itemDims;
    this.#maxBatch = Math.max(1, maxBatch);
  }

  /** Runs `count` items (concatenated in `data`); resolves with their rows of every output. */
  run(data: Float32Array, count = 1): Promise<Record<string, BatchedOutput>> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ data, count, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        nextTurn(() => this.#flush());
      }
    });
  }

  /** Calls made and items run (items / calls is the mean batch). */
  get stats(): { calls: number; items: number } {
    return { calls: this.#calls, items: this.#items };
  }

  async #flush(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch: Pending[] = [];
      let items = 0;
      while (this.#pending.length > 0) {
        const next = this.#pending[0] as Pending;
        if (batch.length > 0 && items + next.count > this.#maxBatch) break;
        batch.push(next);
        items += next.count;
        this.#pending.shift();
      }
      await this.#runBatch(batch, items);
    }
    this.#scheduled = false;
  }

  async #runBatch(batch: Pending[], items: number): Promise<void> {
    const itemSize = this.#itemDims.reduce((a, b) => a * b, 1);
    let input: Float32Array;
    if (batch.length === 1) input = (batch[0] as Pending).data;
    else {
      input = new Float32Array(items * itemSize);
      let at = 0;
      for (const p of batch) {
        input.set(p.data, at);
        at += p.data.length;
      }
    }
    let outputs: InferenceSession.OnnxValueMapType;
    try {
      this.#calls++;
      this.#items += items;
      outputs = await this.#session.run({
        [this.#input]: new this.#runtime.Tensor('float32', input, [items, ...this.#itemDims]),
      });
    } catch (error) {
      for (const p of batch) p.reject(error);
      return;
    }
    let row = 0;
    for (const p of batch) {
      const mine: Record<string, BatchedOutput> = {};
      for (const [name, tensor] of Object.entries(outputs)) {
        const data = tensor.data as Float32Array;
        const per = data.length / items;
        mine[name] = {
          dims: [p.count, ...tensor.dims.slice(1)],
          data: data.subarray(row * per, (row + p.count) * per),
        };
      }
      row += p.count;
      p.resolve(mine);
    }
  }
}
