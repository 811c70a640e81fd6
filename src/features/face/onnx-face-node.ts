import * as ort from 'onnxruntime-node';
import { EriError } from '../../errors.js';
import { loadFaceSessions } from './face-networks.js';
import type { FaceAnalyzerOptions } from './face-vector.js';
import { OnnxFaceAnalyzer } from './onnx-face-analyzer.js';

/** The onnx face stage in Node: the graphs from the converter's cache, on onnxruntime-node. */
export async function createOnnxFaceAnalyzer(options: FaceAnalyzerOptions = {}): Promise<OnnxFaceAnalyzer> {
  try {
    const sessions = await loadFaceSessions({
      ...(options.cacheRoot ? { cacheRoot: options.cacheRoot } : {}),
      ...(options.executionProviders ? { executionProviders: options.executionProviders } : {}),
      iris: (options.mesh ?? true) && (options.iris ?? true),
    });
    return new OnnxFaceAnalyzer(ort, sessions, options);
  } catch (cause) {
    throw new EriError('ERI_ERR_FEATURES', `cannot load the face models: ${(cause as Error).message}`, {
      cause,
    });
  }
}
