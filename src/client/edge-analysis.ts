import * as ort from 'onnxruntime-web/wasm';
import { CROP_GRAPH_IDS, type EdgeAnalysis, type EdgeGraphId } from '../contracts/edge-steps.js';
import {
  ERI_FACE_AUDIO_NO_IRIS_SPEC,
  ERI_FACE_AUDIO_SPEC,
  type FeatureSpec,
  featureSpecDifferences,
} from '../contracts/feature-spec.js';
import { DEFAULT_ANALYSIS_SIZE } from '../contracts/media-step.js';
import { AudioFeaturizer } from '../features/audio/audio-features.js';
import { VoiceActivityDetector } from '../features/audio/vad.js';
import type { FaceSessions } from '../features/face/face-graphs.js';
import { OnnxFaceAnalyzer } from '../features/face/onnx-face-analyzer.js';
import { InThreadAnalysis } from '../features/feature-analysis.js';
import { SessionFeaturizer } from '../features/featurizer.js';
import type { InferenceSession } from '../features/onnx-runtime.js';

/**
 * Edge mode's analysis in a viewer's browser: the server's own feature code (the face analyzer, the
 * audio featurizer, the session featurizer) on onnxruntime-web, with the graphs fetched from the
 * server that will run the model, so both compute from the same bytes. Only features leave the page.
 */

/** Frames are captured at the analysis size the server decodes its own media to. */
export const EDGE_FRAME_SIZE = DEFAULT_ANALYSIS_SIZE;

/** The extractor specs this code produces; a model of any other spec cannot be fed from a browser. */
const EDGE_SPECS = [ERI_FACE_AUDIO_SPEC, ERI_FACE_AUDIO_NO_IRIS_SPEC];

export interface EdgeAnalysisOptions {
  /** The server (its origin): graphs and the runtime come from there. */
  server: string;
  /** The model's feature spec (GET /v1/model, card.featureSpec). */
  spec: FeatureSpec;
}

export interface OpenedEdgeAnalysis {
  analysis: InThreadAnalysis;
  /** What the `start` message declares. */
  declared: EdgeAnalysis;
  /** A featurizer for one session's media steps, in order. */
  featurizer(): SessionFeaturizer;
  /** The execution provider in use. */
  backend: string;
}

/**
 * onnxruntime-web's WebAssembly backend runs one inference at a time: two runs in flight at once (a
 * step's face and its audio, two faces of one frame) corrupt each other. Every session's `run` goes
 * through one queue; everything else passes through.
 */
function oneRunAtATime(): (session: InferenceSession) => InferenceSession {
  let tail: Promise<unknown> = Promise.resolve();
  return (session) =>
    new Proxy(session, {
      get(target, prop) {
        if (prop === 'run')
          return (...args: Parameters<InferenceSession['run']>) => {
            const run = tail.then(() => target.run(...args));
            tail = run.catch(() => {});
            return run;
          };
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
}

export async function openEdgeAnalysis(options: EdgeAnalysisOptions): Promise<OpenedEdgeAnalysis> {
  const base = options.server.replace(/\/$/, '');
  const produced = EDGE_SPECS.find((s) => featureSpecDifferences(s, options.spec).length === 0);
  if (!produced)
    throw new Error(
      `this page computes ${EDGE_SPECS.map((s) => s.id).join(' or ')}, the model needs ${options.spec.id}`,
    );
  const iris = produced.id === ERI_FACE_AUDIO_SPEC.id;
  // One thread: no SharedArrayBuffer (so no cross-origin isolation needed), and the page stays usable.
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = `${base}/v1/edge/runtime/`;
  const queued = oneRunAtATime();
  const open = async (id: EdgeGraphId) => {
    const res = await fetch(`${base}/v1/edge/graphs/${id}`);
    if (!res.ok) throw new Error(`graph ${id}: HTTP ${res.status}`);
    const session = await ort.InferenceSession.create(new Uint8Array(await res.arrayBuffer()), {
      executionProviders: ['wasm'],
      graphOptimizationLevel: 'all',
    });
    return queued(session);
  };
  const [detector, mesh, irisNet, expression, vad, ...crops] = await Promise.all([
    open('detector'),
    open('mesh'),
    iris ? open('iris') : Promise.resolve(undefined),
    open('expression'),
    open('vad'),
    ...CROP_GRAPH_IDS.map(open),
  ]);
  const sessions = {
    detector,
    mesh,
    iris: irisNet,
    expression,
    ...Object.fromEntries(CROP_GRAPH_IDS.map((id, i) => [id, crops[i]])),
  } as FaceSessions;
  const faceOptions = { iris };
  const analysis = new InThreadAnalysis(
    new OnnxFaceAnalyzer(ort, sessions, { ...faceOptions, maxBatch: 1 }),
    new AudioFeaturizer(new VoiceActivityDetector(ort, vad)),
    { face: faceOptions },
  );
  return {
    analysis,
    declared: {
      mode: 'edge',
      spec: produced.id,
      videoDim: produced.video.dim,
      audioDim: produced.audio.dim,
      rateHz: produced.rateHz ?? 10,
    },
    featurizer: () => new SessionFeaturizer(analysis, EDGE_FRAME_SIZE),
    backend: 'onnxruntime-web (wasm)',
  };
}
