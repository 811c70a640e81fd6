import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { runTrainer } from '../dataset/python-trainer.js';
import { LocalEngine } from '../model/engine.js';
import { cachedGraphs } from '../model/graph-cache.js';
import { SeededRandom } from '../model/init.js';
import { loadModelPackage } from '../model/package.js';
import { initRandomPackage } from '../model/package-tools.js';
import { PlainModel } from '../model/plain-model.js';
import type { BranchArchitecture, ModelArchitecture } from '../model/weights.js';
import { GraphBuilder } from '../onnx/graph-builder.js';
import { describeMachine, fmt, machineInfo, type Summary, table, timeIt } from './harness.js';

/**
 * `eri bench estimate`: what one running estimate costs (window W steps, stride S steps, both branches),
 * computed the way the server does it (S incremental GRU steps per branch, the encoder over the window,
 * the head) against the PyTorch model of models/training computing the same estimate from scratch (the
 * GRUs over the whole window, then the same encoders and head), both on one thread, in the same run; and
 * against its floating-point work divided by this core's measured GEMM rate (the floor for this model).
 */

export interface EstimateCostResult {
  machine: ReturnType<typeof machineInfo>;
  windowSteps: number;
  strideSteps: number;
  ours: Summary;
  /** The same computation in plain TypeScript loops (PlainModel), no onnxruntime. */
  plainTs: Summary;
  pytorch: { medianMs: number; p95Ms: number; version: string } | { skipped: string };
  flops: { encoderPerBranch: number; gruPerStep: number; perEstimate: number };
  gemm: { m: number; k: number; n: number; gflops: number };
  floorMs: number;
}

function rand(n: number, rng: SeededRandom): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal();
  return out;
}

/**
 * Multiply-adds x2 the encoder needs over `tokens` positions (the regression token + the window): every
 * layer in full but the last, where only the token's row matters (its query, attention, projection and
 * MLP; every position's key and value), which is what the built graph computes.
 */
export function encoderFlops(a: BranchArchitecture, tokens: number): number {
  const inner = a.heads * a.dimHead;
  const layer = (queries: number) =>
    2 * tokens * a.hidden * 2 * inner + // keys and values
    2 * queries * a.hidden * inner + // queries
    2 * 2 * queries * tokens * inner + // q k^T and attention x v
    2 * queries * inner * a.hidden + // to_out
    2 * 2 * queries * a.hidden * a.mlpDim; // the two MLP layers
  return (a.depth - 1) * layer(tokens) + layer(1);
}

export function gruStepFlops(a: BranchArchitecture): number {
  let total = 0;
  for (let l = 0; l < a.gruLayers; l++)
    total += 2 * 3 * a.hidden * ((l === 0 ? a.inputDim : a.hidden) + a.hidden);
  return total;
}

export function estimateFlops(arch: ModelArchitecture, windowSteps: number, strideSteps: number) {
  const enc = encoderFlops(arch.video, windowSteps + 1) + encoderFlops(arch.audio, windowSteps + 1);
  const gru = gruStepFlops(arch.video) + gruStepFlops(arch.audio);
  const head =
    2 * (arch.video.hidden + arch.audio.hidden) * arch.headHidden + 2 * arch.headHidden * arch.outputs;
  return {
    encoderPerBranch: encoderFlops(arch.video, windowSteps + 1),
    gruPerStep: gru,
    perEstimate: enc + strideSteps * gru + head,
  };
}

/** This core's single-thread GEMM rate through onnxruntime, on the encoder's largest product's shape. */
async function measureGemm(m: number, k: number, n: number, repeats: number) {
  const rng = new SeededRandom(3);
  const g = new GraphBuilder('gemm');
  const a = g.input('a', 'float', [m, k]);
  const b = g.float('b', { shape: [k, n], data: rand(k * n, rng) });
  g.output(g.node('MatMul', [a, b]), 'y', 'float', [m, n]);
  const session = await ort.InferenceSession.create(g.encode(), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  const feed = { a: new ort.Tensor('float32', rand(m * k, rng), [m, k]) };
  try {
    const t = await timeIt(() => session.run(feed), repeats);
    return { m, k, n, gflops: (2 * m * k * n) / (t.medianMs * 1e6) };
  } finally {
    await session.release();
  }
}

export async function runEstimateCostBench(
  o: { repeats?: number; windowSteps?: number; strideSteps?: number; pytorch?: boolean } = {},
): Promise<EstimateCostResult> {
  const repeats = o.repeats ?? 20;
  const W = o.windowSteps ?? 300;
  const S = o.strideSteps ?? 10;
  const dir = await mkdtemp(join(tmpdir(), 'eri-bench-'));
  try {
    await initRandomPackage(dir, { seed: 1 });
    const pkg = await loadModelPackage(dir);
    const arch = pkg.weights.architecture;
    const engine = await LocalEngine.create(arch, await cachedGraphs(pkg.weights), { intraOpThreads: 1 });
    const rng = new SeededRandom(5);
    const x = { video: rand(arch.video.inputDim, rng), audio: rand(arch.audio.inputDim, rng) };
    const h = { video: rand(2 * arch.video.hidden, rng), audio: rand(2 * arch.audio.hidden, rng) };
    const gru = { video: rand(W * arch.video.hidden, rng), audio: rand(W * arch.audio.hidden, rng) };
    const mask = new Uint8Array(W).fill(1);
    let ours: Summary;
    try {
      ours = await timeIt(async () => {
        for (let s = 0; s < S; s++) {
          for (const branch of ['video', 'audio'] as const) {
            h[branch] = (await engine.gruStep({ branch, batch: 1, x: x[branch], h: h[branch] })).h;
          }
        }
        const tokenVideo = await engine.encode({ branch: 'video', batch: 1, time: W, gru: gru.video, mask });
        const tokenAudio = await engine.encode({ branch: 'audio', batch: 1, time: W, gru: gru.audio, mask });
        await engine.head({ batch: 1, tokenVideo, tokenAudio });
      }, repeats);
    } finally {
      await engine.close();
    }
    const plain = new PlainModel(pkg.weights);
    const plainH: Record<'video' | 'audio', Float32Array> = {
      video: h.video.slice(),
      audio: h.audio.slice(),
    };
    const plainTs = await timeIt(
      async () => {
        for (let s = 0; s < S; s++) {
          for (const branch of ['video', 'audio'] as const)
            plainH[branch] = plain.gruStep(branch, x[branch], plainH[branch]);
        }
        plain.head(plain.encode('video', gru.video, W), plain.encode('audio', gru.audio, W));
      },
      Math.max(3, Math.floor(repeats / 5)),
      1,
    );
    let pytorch: EstimateCostResult['pytorch'];
    if (o.pytorch === false) pytorch = { skipped: 'not asked for (--no-pytorch)' };
    else {
      try {
        const out = await runTrainer(
          ['bench', '--steps', String(W), '--threads', '1', '--repeats', String(repeats), '--model', dir],
          { quiet: true },
        );
        const r = JSON.parse(out.trim().split('\n').pop() as string);
        pytorch = { medianMs: r.median_ms, p95Ms: r.p95_ms, version: r.what };
      } catch (error) {
        pytorch = { skipped: (error as Error).message };
      }
    }
    const flops = estimateFlops(arch, W, S);
    const gemm = await measureGemm(
      W + 1,
      arch.video.hidden,
      3 * arch.video.heads * arch.video.dimHead,
      repeats * 5,
    );
    return {
      machine: machineInfo(),
      windowSteps: W,
      strideSteps: S,
      ours,
      plainTs,
      pytorch,
      flops,
      gemm,
      floorMs: flops.perEstimate / (gemm.gflops * 1e6),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatEstimateCostBench(r: EstimateCostResult): string {
  const torch = 'skipped' in r.pytorch ? undefined : r.pytorch;
  return [
    `machine: ${describeMachine(r.machine)}`,
    `one running estimate: W = ${r.windowSteps} steps, S = ${r.strideSteps} steps, both branches, 1 thread each`,
    '',
    table([
      ['computation', 'median ms', 'p95 ms', 'ratio'],
      [
        'eri-stream: S GRU steps + encoders + head (onnxruntime)',
        fmt(r.ours.medianMs),
        fmt(r.ours.p95Ms),
        '1',
      ],
      [
        'the same in plain TypeScript loops (no onnxruntime)',
        fmt(r.plainTs.medianMs),
        fmt(r.plainTs.p95Ms),
        `${(r.plainTs.medianMs / r.ours.medianMs).toFixed(2)}x slower`,
      ],
      torch
        ? [
            'PyTorch, from scratch (GRUs over W + encoders + head)',
            fmt(torch.medianMs),
            fmt(torch.p95Ms),
            `${(torch.medianMs / r.ours.medianMs).toFixed(2)}x slower`,
          ]
        : ['PyTorch, from scratch', '-', '-', `not measured: ${(r.pytorch as { skipped: string }).skipped}`],
      [
        'floor: FLOPs / measured GEMM rate',
        fmt(r.floorMs),
        '',
        `${(r.ours.medianMs / r.floorMs).toFixed(2)}x of the floor`,
      ],
    ]),
    '',
    `FLOPs per estimate ${(r.flops.perEstimate / 1e9).toFixed(3)} G (encoder ${(r.flops.encoderPerBranch / 1e9).toFixed(3)} G per branch, GRU ${(r.flops.gruPerStep / 1e6).toFixed(2)} M per step of both branches); ` +
      `GEMM ${r.gemm.m}x${r.gemm.k}x${r.gemm.n}: ${r.gemm.gflops.toFixed(1)} GFLOP/s on one thread`,
    ...(torch ? [`PyTorch: ${torch.version}`] : []),
  ].join('\n');
}
