import type { FaceAnalyzerBackend, FaceAnalyzerOptions } from './face-vector.js';
import { createOnnxFaceAnalyzer } from './onnx-face-node.js';
import { TfjsFaceAnalyzer } from './tfjs-face-analyzer.js';

/** The face backend the options name: onnxruntime unless `backend: 'tfjs'` (the reference) is asked for. */
export function createFaceAnalyzer(options: FaceAnalyzerOptions = {}): Promise<FaceAnalyzerBackend> {
  return options.backend === 'tfjs' ? TfjsFaceAnalyzer.create(options) : createOnnxFaceAnalyzer(options);
}
