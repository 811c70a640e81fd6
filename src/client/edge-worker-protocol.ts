import type { AudioChunk, VideoFrame } from '../../streams/align-media.js';
import type { EdgeAnalysis } from '../contracts/edge-steps.js';
import type { FeatureSpec } from '../contracts/feature-spec.js';
import type { FeatureStep } from '../contracts/feature-step.js';
import type { EdgeBackendChoice } from './edge-analysis.js';

/**
 * The messages between an edge page and its analysis worker (`/public/edge-worker.js`): the page
 * captures (the camera and microphone are only reachable there) and sends the worker its frames and
 * audio; the worker aligns them into steps, computes the features and sends the steps back. The
 * analysis, ~0.4 of a core, so never blocks the page's own thread.
 */

export type ToEdgeWorker =
  | { type: 'open'; server: string; spec: FeatureSpec; backend?: EdgeBackendChoice }
  | { type: 'frame'; frame: VideoFrame }
  | { type: 'audio'; chunk: AudioChunk }
  | { type: 'stop' };

export type FromEdgeWorker =
  | { type: 'opened'; declared: EdgeAnalysis; backend: string }
  | { type: 'step'; step: FeatureStep }
  | { type: 'face-skipped' }
  | { type: 'stopped' }
  | { type: 'error'; message: string };
