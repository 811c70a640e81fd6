import * as ortWasm from 'onnxruntime-web/wasm';
import * as ortWebGpu from 'onnxruntime-web/webgpu';
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

/**
 * Where the networks run: `wasm` (WebAssembly SIMD, one thread; the default), or `webgpu` (the
 * browser's GPU, with WebAssembly for any node WebGPU does not take). WebGPU is opt-in and not
 * validated: the only WebGPU adapter on the machines this is built on is SwiftShader (software), and
 * there the face networks took ~8 s a step and found no face where WebAssembly does (BENCHMARKS.md,
 * "Edge mode: WebGPU"). `test/browser/edge-parity-e2e.ts <clip> <s> <out> webgpu` checks it on a GPU.
 */
export type EdgeBackendChoice = 'wasm' | 'webgpu';

export interface EdgeAnalysisOptions {
  /** The server (its origin): graphs and the runtime come from there. */
  server: string;
  /** The model's feature spec (GET /v1/model, card.featureSpec). */
  spec: FeatureSpec;
  /** Default `wasm`. */
  backend?: EdgeBackendChoice;
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

interface GpuAdapterInfo {
  vendor?: string;
  architecture?: string;
  description?: string;
}

/** The browser's WebGPU adapter, by name, if it has one. */
async function webGpuAdapterName(): Promise<string | undefined> {
  const gpu = (globalThis.navigator as { gpu?: { requestAdapter(): Promise<unknown> } } | undefined)?.gpu;
  const adapter = (await gpu?.requestAdapter().catch(() => null)) as
    | { info?: GpuAdapterInfo }
    | null
    | undefined;
  if (!adapter) return undefined;
  const info = adapter.info ?? {};
  return [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'unknown';
}

/**
 * The runtime build and execution providers for a choice, and the backend's name as the page shows it.
 * Two builds: the WebGPU one brings a WebAssembly binary twice the size (27 MB), which a page on
 * WebAssembly never downloads.
 */
async function chooseBackend(
  choice: EdgeBackendChoice,
): Promise<{ ort: typeof ortWasm; providers: string[]; name: string }> {
  if (choice === 'wasm') return { ort: ortWasm, providers: ['wasm'], name: 'onnxruntime-web (wasm)' };
  const adapter = await webGpuAdapterName();
  if (!adapter) throw new Error('this browser offers no WebGPU adapter');
  return {
    ort: ortWebGpu as unknown as typeof ortWasm,
    providers: ['webgpu', 'wasm'],
    name: `onnxruntime-web (webgpu: ${adapter})`,
  };
}

export async function openEdgeAnalysis(options: EdgeAnalysisOptions): Promise<OpenedEdgeAnalysis> {
  const base = options.server.replace(/\/$/, '');
  const produced = EDGE_SPECS.find((s) => featureSpecDifferences(s, options.spec).length === 0);
  if (!produced)
    throw new Error(
      `this page computes ${EDGE_SPECS.map((s) => s.id).join(' or ')}, the model needs ${options.spec.id}`,
    );
  const iris = produced.id === ERI_FACE_AUDIO_SPEC.id;
  const backend = await chooseBackend(options.backend ?? 'wasm');
  const { ort } = backend;
  // One thread: no SharedArrayBuffer (so no cross-origin isolation needed), and the page stays usable.
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = `${base}/v1/edge/runtime/`;
  const queued = oneRunAtATime();
  const ids: EdgeGraphId[] = [
    'detector',
    'mesh',
    ...(iris ? ['iris' as const] : []),
    'expression',
    'vad',
    ...CROP_GRAPH_IDS,
  ];
  // The graphs download at once; the sessions are made one after another (the WebGPU backend refuses
  // to make two at the same time).
  const graphs = ids.map(async (id) => {
    const res = await fetch(`${base}/v1/edge/graphs/${id}`);
    if (!res.ok) throw new Error(`graph ${id}: HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  });
  // A download that fails while an earlier session is being made is reported where it is awaited,
  // not as an unhandled rejection first.
  for (const g of graphs) g.catch(() => {});
  const opened = new Map<EdgeGraphId, InferenceSession>();
  for (const [i, id] of ids.entries()) {
    const session = await ort.InferenceSession.create(await (graphs[i] as Promise<Uint8Array>), {
      executionProviders: backend.providers,
      graphOptimizationLevel: 'all',
    });
    opened.set(id, queued(session));
  }
  const get = (id: EdgeGraphId) => opened.get(id) as InferenceSession;
  const sessions = {
    detector: get('detector'),
    mesh: get('mesh'),
    iris: opened.get('iris'),
    expression: get('expression'),
    ...Object.fromEntries(CROP_GRAPH_IDS.map((id) => [id, get(id)])),
  } as FaceSessions;
  const faceOptions = { iris };
  const analysis = new InThreadAnalysis(
    new OnnxFaceAnalyzer(ort, sessions, { ...faceOptions, maxBatch: 1 }),
    new AudioFeaturizer(new VoiceActivityDetector(ort, get('vad'))),
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
    backend: backend.name,
  };
}
