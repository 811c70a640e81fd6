import type { InferenceSession, Tensor } from 'onnxruntime-common';

/**
 * The part of an onnxruntime package the feature code uses. onnxruntime-node (the server) and
 * onnxruntime-web (a viewer's browser, edge mode) both implement onnxruntime-common's API, so the
 * feature code is one module compiled for both, given the runtime it runs on; only how the graphs
 * are found and opened differs (files and the cache in Node, the server's graph routes in a browser).
 */
export interface OnnxRuntime {
  Tensor: typeof Tensor;
}

export type { InferenceSession, Tensor };
