import { join } from 'node:path';
import { from, lastValueFrom, toArray } from 'rxjs';
import { cosine, pearson } from '../../src/bench/face-parity.js';
import { blockOffset, ERI_FACE_AUDIO_SPEC } from '../../src/contracts/feature-spec.js';
import type { FeatureStep } from '../../src/contracts/feature-step.js';
import { EriModel } from '../../src/model/model.js';
import { estimateSteps } from '../../streams/estimate-steps.js';
import { InferenceBatcher } from '../../streams/inference-batcher.js';
import { REPO_ROOT } from '../helpers.js';

/** One step's features from one side, and what it cost there. */
export interface ParityStep {
  video: number[];
  audio: number[];
  face: boolean;
  faceMs: number;
  audioMs: number;
  detector: boolean;
}

/** What edge-parity-e2e.ts writes: the same clip's features from the server and from the browser. */
export interface EdgeParityResult {
  server: ParityStep[];
  edge: ParityStep[];
  /** The browser's audio ms per step with no face work queued ahead of it. */
  edgeAudioAloneMs: number[];
  backend: string;
  error?: string;
  logs: string[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

function stepCosts(steps: ParityStep[]) {
  return {
    trackedFace: median(steps.filter((s) => s.face && !s.detector).map((s) => s.faceMs)),
    detectorFace: median(steps.filter((s) => s.detector).map((s) => s.faceMs)),
    audio: median(steps.map((s) => s.audioMs)),
  };
}

/**
 * The issue's parity measures: face flag agreement; on steps with a face in both, the embedding's
 * cosine (min) and each action unit's Pearson r over the clip (min); the audio features' largest
 * difference; and the running estimates of the starter model over each sequence (largest difference).
 */
export async function compareEdgeFeatures(r: EdgeParityResult) {
  const spec = ERI_FACE_AUDIO_SPEC;
  const embedding = blockOffset(spec.video, 'expression_embedding');
  const au = blockOffset(spec.video, 'action_units');
  const auCount = 17;
  const both = r.server.flatMap((s, i) => (s.face && r.edge[i]?.face ? [i] : []));
  const faceAgreement = r.server.filter((s, i) => s.face === r.edge[i]?.face).length / r.server.length;
  const embeddingOf = (v: number[] | undefined) =>
    Float32Array.from((v ?? []).slice(embedding, embedding + 256));
  const cosines = both.map((i) =>
    cosine(embeddingOf(r.server[i]?.video), embeddingOf(r.edge[i]?.video), 256),
  );
  const rs = Array.from({ length: auCount }, (_, k) =>
    pearson(
      both.map((i) => r.server[i]?.video[au + k] as number),
      both.map((i) => r.edge[i]?.video[au + k] as number),
    ),
  );
  let audioMaxAbsDiff = 0;
  r.server.forEach((s, i) => {
    s.audio.forEach((v, j) => {
      audioMaxAbsDiff = Math.max(audioMaxAbsDiff, Math.abs(v - (r.edge[i]?.audio[j] as number)));
    });
  });
  const model = await EriModel.load(join(REPO_ROOT, 'models', 'eri-starter'), { engine: 'local' });
  try {
    const estimates = async (steps: EdgeParityResult['server']) => {
      const features: FeatureStep[] = steps.map((s, index) => ({
        index,
        t: index / 10,
        video: Float32Array.from(s.video),
        audio: Float32Array.from(s.audio),
        face: { present: s.face, confidence: 0 },
        speech: 0,
        audioCoverage: 1,
        hasFrame: true,
      }));
      return lastValueFrom(
        from(features).pipe(
          estimateSteps(
            new InferenceBatcher(model.engine, model.architecture),
            { sessionId: 'parity', roomId: 'parity', model: 'starter', rateHz: 10, analysis: 'edge' },
            { windowSteps: 50, strideSteps: 10 },
          ),
          toArray(),
        ),
      );
    };
    const [fromServer, fromEdge] = [await estimates(r.server), await estimates(r.edge)];
    let estimateMaxAbsDiff = 0;
    fromServer.forEach((e, i) => {
      e.values.forEach((v, j) => {
        estimateMaxAbsDiff = Math.max(estimateMaxAbsDiff, Math.abs(v - (fromEdge[i]?.values[j] as number)));
      });
    });
    return {
      backend: r.backend,
      steps: r.server.length,
      faceSteps: both.length,
      faceAgreement,
      embeddingCosineMin: Math.min(1, ...cosines),
      actionUnitRMin: Math.min(...rs),
      actionUnitR: rs,
      audioMaxAbsDiff,
      estimates: fromServer.length,
      estimateMaxAbsDiff,
      // Median ms of one step's work, each side on one thread (the browser: onnxruntime-web's wasm).
      browserMs: { ...stepCosts(r.edge), audioAlone: median(r.edgeAudioAloneMs) },
      serverMs: stepCosts(r.server),
    };
  } finally {
    await model.close();
  }
}
