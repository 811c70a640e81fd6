import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { from, lastValueFrom, tap } from 'rxjs';
import { estimateSteps } from '../../streams/estimate-steps.js';
import { InferenceBatcher } from '../../streams/inference-batcher.js';
import type { FeatureStep } from '../contracts/feature-step.js';
import { SeededRandom } from '../model/init.js';
import { EriModel } from '../model/model.js';
import { initRandomPackage } from '../model/package-tools.js';
import { describeMachine, fmt, machineInfo, type Summary, summarize, table, timeIt } from './harness.js';

/**
 * `eri bench pipeline`: the streaming model under load. Sessions of synthetic feature steps arrive in
 * real time (10 Hz) through the shared batcher and a worker pool; each estimate's latency is measured
 * from its window's last step being ready to the estimate. Then two comparisons in the same run:
 * incremental GRU vs recomputing it over the window each stride, and micro-batched vs one-by-one
 * encoder runs.
 */

export interface PipelineBenchOptions {
  sessions?: number[];
  mediaSeconds?: number;
  windowSeconds?: number;
  workers?: number;
}

export interface PipelineBenchResult {
  machine: ReturnType<typeof machineInfo>;
  windowSteps: number;
  latency: { sessions: number; summary: Summary; dropped: number; meanGruBatch: number }[];
  gru: { mode: string; perStrideMs: Summary; ratio: number }[];
  encoder: { sessions: number; oneByOneMs: Summary; batchedMs: Summary; ratio: number };
}

const RATE = 10;
const STRIDE = 10;

function stepsOf(n: number, seed: number, dims: { video: number; audio: number }): FeatureStep[] {
  const rng = new SeededRandom(seed);
  return Array.from({ length: n }, (_, index) => ({
    index,
    t: index / RATE,
    video: rng.fill([dims.video], () => rng.normal()).data,
    audio: rng.fill([dims.audio], () => rng.normal()).data,
    face: { present: true, confidence: 0.9 },
    speech: 0,
    audioCoverage: 1,
    hasFrame: true,
  }));
}

async function* realTime(steps: FeatureStep[], start: number): AsyncGenerator<FeatureStep> {
  for (const step of steps) {
    const wait = start + (step.index * 1000) / RATE - performance.now();
    if (wait > 0) await sleep(wait);
    yield step;
  }
}

/** One untimed warm-up call, then `repeats` timed calls. */
const timeRepeated = (fn: () => Promise<unknown>, repeats: number) => timeIt(fn, repeats, 1);

export async function runPipelineBench(o: PipelineBenchOptions = {}): Promise<PipelineBenchResult> {
  const dir = await mkdtemp(join(tmpdir(), 'eri-bench-'));
  await initRandomPackage(dir, { seed: 1 });
  const model = await EriModel.load(dir, { engine: 'pool', ...(o.workers ? { workers: o.workers } : {}) });
  const a = model.architecture;
  const dims = { video: a.video.inputDim, audio: a.audio.inputDim };
  const windowSteps = Math.round((o.windowSeconds ?? 30) * RATE);
  const mediaSteps = Math.round((o.mediaSeconds ?? 20) * RATE);
  try {
    const latency: PipelineBenchResult['latency'] = [];
    for (const sessions of o.sessions ?? [1, 8, 32]) {
      const batcher = new InferenceBatcher(model.engine, a);
      const latencies: number[] = [];
      let dropped = 0;
      const start = performance.now() + 50;
      await Promise.all(
        Array.from({ length: sessions }, (_, s) =>
          lastValueFrom(
            from(realTime(stepsOf(mediaSteps, s, dims), start)).pipe(
              estimateSteps(
                batcher,
                { sessionId: `s${s}`, roomId: 'r', model: 'bench', rateHz: RATE, analysis: 'server' },
                { windowSteps, strideSteps: STRIDE, onDroppedEstimate: () => dropped++ },
              ),
              tap((e) => {
                if (!e.final) latencies.push(e.latencyMs);
              }),
            ),
            { defaultValue: undefined },
          ),
        ),
      );
      latency.push({
        sessions,
        summary: summarize(latencies),
        dropped,
        meanGruBatch: batcher.stats.gruSteps / Math.max(1, batcher.stats.gruCalls),
      });
    }

    // Incremental vs recompute, per stride of S steps for one session, and for 16 sessions batched.
    const window = stepsOf(windowSteps, 99, dims);
    const x = {
      video: new Float32Array(windowSteps * dims.video),
      audio: new Float32Array(windowSteps * dims.audio),
    };
    window.forEach((s, i) => {
      x.video.set(s.video, i * dims.video);
      x.audio.set(s.audio, i * dims.audio);
    });
    const h = {
      video: new Float32Array(a.video.gruLayers * a.video.hidden),
      audio: new Float32Array(a.audio.gruLayers * a.audio.hidden),
    };
    const recompute = await timeRepeated(
      () =>
        Promise.all(
          (['video', 'audio'] as const).map((branch) =>
            model.engine.gruSequence({
              branch,
              batch: 1,
              time: windowSteps,
              x: x[branch],
              lengths: new Int32Array([windowSteps]),
            }),
          ),
        ),
      20,
    );
    const incremental = await timeRepeated(async () => {
      for (let k = 0; k < STRIDE; k++) {
        await Promise.all(
          (['video', 'audio'] as const).map((branch) =>
            model.engine.gruStep({ branch, batch: 1, x: window[k]?.[branch] as Float32Array, h: h[branch] }),
          ),
        );
      }
    }, 20);
    const B = 16;
    const batchedX = { video: new Float32Array(B * dims.video), audio: new Float32Array(B * dims.audio) };
    const batchedH = {
      video: new Float32Array(a.video.gruLayers * B * a.video.hidden),
      audio: new Float32Array(a.audio.gruLayers * B * a.audio.hidden),
    };
    const incrementalBatched = await timeRepeated(async () => {
      for (let k = 0; k < STRIDE; k++) {
        await Promise.all(
          (['video', 'audio'] as const).map((branch) =>
            model.engine.gruStep({ branch, batch: B, x: batchedX[branch], h: batchedH[branch] }),
          ),
        );
      }
    }, 20);
    const perSession = (s: Summary, n: number): Summary => ({
      n: s.n,
      medianMs: s.medianMs / n,
      p95Ms: s.p95Ms / n,
      p99Ms: s.p99Ms / n,
      maxMs: s.maxMs / n,
    });
    const gru = [
      { mode: `recompute over the window (${windowSteps} steps)`, perStrideMs: recompute, ratio: 1 },
      {
        mode: `incremental, ${STRIDE} steps, one session per call`,
        perStrideMs: incremental,
        ratio: recompute.medianMs / incremental.medianMs,
      },
      {
        mode: `incremental, ${STRIDE} steps, ${B} sessions per call (per session)`,
        perStrideMs: perSession(incrementalBatched, B),
        ratio: recompute.medianMs / (incrementalBatched.medianMs / B),
      },
    ];

    // Encoder: 8 sessions' windows falling due together, through the batcher vs one call each.
    const N = 8;
    const windows = Array.from(
      { length: N },
      (_, s) => new SeededRandom(s).fill([windowSteps * a.video.hidden], () => Math.random() - 0.5).data,
    );
    const oneByOne = await timeRepeated(async () => {
      for (const w of windows)
        await model.engine.encode({
          branch: 'video',
          batch: 1,
          time: windowSteps,
          gru: w,
          mask: new Uint8Array(windowSteps).fill(1),
        });
    }, 10);
    const batcher = new InferenceBatcher(model.engine, a);
    const batched = await timeRepeated(
      () => Promise.all(windows.map((w) => batcher.encode('video', w, windowSteps))),
      10,
    );
    return {
      machine: machineInfo(),
      windowSteps,
      latency,
      gru,
      encoder: {
        sessions: N,
        oneByOneMs: oneByOne,
        batchedMs: batched,
        ratio: oneByOne.medianMs / batched.medianMs,
      },
    };
  } finally {
    await model.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatPipelineBench(r: PipelineBenchResult): string {
  return [
    `machine: ${describeMachine(r.machine)}`,
    `W = ${r.windowSteps} steps (${r.windowSteps / RATE} s), S = ${STRIDE} steps, synthetic feature steps arriving in real time at ${RATE} Hz`,
    '',
    table([
      ['sessions', 'estimates', 'latency median ms', 'p95 ms', 'max ms', 'dropped', 'mean GRU batch'],
      ...r.latency.map((l) => [
        String(l.sessions),
        String(l.summary.n),
        fmt(l.summary.medianMs),
        fmt(l.summary.p95Ms),
        fmt(l.summary.maxMs),
        String(l.dropped),
        l.meanGruBatch.toFixed(1),
      ]),
    ]),
    '',
    table([
      ['GRU cost per stride (both branches)', 'median ms', 'p95 ms', 'cheaper than recompute'],
      ...r.gru.map((g) => [
        g.mode,
        fmt(g.perStrideMs.medianMs),
        fmt(g.perStrideMs.p95Ms),
        `${g.ratio.toFixed(1)}x`,
      ]),
    ]),
    '',
    table([
      [`encoder, ${r.encoder.sessions} windows falling due together`, 'median ms', 'p95 ms', 'windows/s'],
      [
        'one call per session',
        fmt(r.encoder.oneByOneMs.medianMs),
        fmt(r.encoder.oneByOneMs.p95Ms),
        ((r.encoder.sessions * 1000) / r.encoder.oneByOneMs.medianMs).toFixed(0),
      ],
      [
        'micro-batched (InferenceBatcher)',
        fmt(r.encoder.batchedMs.medianMs),
        fmt(r.encoder.batchedMs.p95Ms),
        ((r.encoder.sessions * 1000) / r.encoder.batchedMs.medianMs).toFixed(0),
      ],
      ['ratio', '', '', `${r.encoder.ratio.toFixed(2)}x`],
    ]),
  ].join('\n');
}
