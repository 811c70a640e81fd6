import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ABAW5_REFERENCE_SPEC } from '../contracts/feature-spec.js';
import { LocalEngine } from '../model/engine.js';
import { cachedGraphs, graphCacheKey } from '../model/graph-cache.js';
import { SeededRandom } from '../model/init.js';
import { loadModelPackage } from '../model/package.js';
import { initRandomPackage } from '../model/package-tools.js';
import { PooledEngine } from '../model/pooled-engine.js';
import type { Branch } from '../model/weights.js';
import { describeMachine, fmt, machineInfo, type Summary, summarize, table, timeIt } from './harness.js';

/**
 * `eri bench model`: the sequence model's costs on this machine. In-thread numbers are onnxruntime's own
 * cost; the pooled GRU step adds the worker-thread round trip a server pays. Batched vs unbatched runs 8
 * sessions' work as one call and as 8 calls, in the same run, and reports the ratio.
 */

export interface ModelBenchOptions {
  modelDir?: string;
  repeats: number;
  cacheRoot?: string;
  sessions?: number;
  windows?: number[];
}

export interface ModelBenchRow {
  name: string;
  unit: string;
  summary: Summary;
}

export interface ModelBenchResult {
  machine: ReturnType<typeof machineInfo>;
  model: string;
  rows: ModelBenchRow[];
  batching: { op: string; sessions: number; unbatchedMs: Summary; batchedMs: Summary; speedup: number }[];
}

function random(n: number, rng: SeededRandom): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal();
  return out;
}

export async function runModelBench(options: ModelBenchOptions): Promise<ModelBenchResult> {
  let tmp: string | undefined;
  let dir = options.modelDir;
  if (!dir) {
    tmp = await mkdtemp(join(tmpdir(), 'eri-bench-'));
    dir = tmp;
    await initRandomPackage(dir, { seed: 1, featureSpec: ABAW5_REFERENCE_SPEC });
  }
  const pkg = await loadModelPackage(dir);
  const graphs = await cachedGraphs(pkg.weights, options.cacheRoot);
  const arch = pkg.weights.architecture;
  const engine = await LocalEngine.create(arch, graphs, { intraOpThreads: 1 });
  const pool = new PooledEngine(
    { key: graphCacheKey(pkg.weights), architecture: arch, graphs },
    { workers: 1 },
  );
  const rng = new SeededRandom(7);
  const rows: ModelBenchRow[] = [];
  const batching: ModelBenchResult['batching'] = [];
  const repeats = options.repeats;
  const sessions = options.sessions ?? 8;
  try {
    for (const branch of ['video', 'audio'] as Branch[]) {
      const a = arch[branch];
      const x = random(a.inputDim, rng);
      const h = random(a.gruLayers * a.hidden, rng);
      rows.push({
        name: `GRU step ${branch} (in-thread)`,
        unit: 'per step',
        summary: await timeIt(() => engine.gruStep({ branch, batch: 1, x, h }), repeats * 5),
      });
      rows.push({
        name: `GRU step ${branch} (worker pool)`,
        unit: 'per step',
        summary: await timeIt(() => pool.gruStep({ branch, batch: 1, x, h }), repeats * 5),
      });
    }
    for (const time of options.windows ?? [30, 100, 300]) {
      const hidden = arch.video.hidden;
      const gru = random(time * hidden, rng);
      const mask = new Uint8Array(time).fill(1);
      rows.push({
        name: `encoder ${time} steps (+token)`,
        unit: 'per call',
        summary: await timeIt(() => engine.encode({ branch: 'video', batch: 1, time, gru, mask }), repeats),
      });
    }
    const tv = random(arch.video.hidden, rng);
    const ta = random(arch.audio.hidden, rng);
    rows.push({
      name: 'head',
      unit: 'per call',
      summary: await timeIt(() => engine.head({ batch: 1, tokenVideo: tv, tokenAudio: ta }), repeats * 5),
    });

    // Batched vs unbatched: the same work for `sessions` sessions, as one call and as one call each.
    const a = arch.video;
    const xs = random(sessions * a.inputDim, rng);
    const hs = random(a.gruLayers * sessions * a.hidden, rng);
    const perSessionX = Array.from({ length: sessions }, (_, s) =>
      xs.slice(s * a.inputDim, (s + 1) * a.inputDim),
    );
    const perSessionH = Array.from({ length: sessions }, () => random(a.gruLayers * a.hidden, rng));
    batching.push(
      await compare(
        'GRU step video',
        sessions,
        repeats * 3,
        async () => {
          for (let s = 0; s < sessions; s++) {
            await engine.gruStep({
              branch: 'video',
              batch: 1,
              x: perSessionX[s] as Float32Array,
              h: perSessionH[s] as Float32Array,
            });
          }
        },
        () => engine.gruStep({ branch: 'video', batch: sessions, x: xs, h: hs }),
      ),
    );
    const time = 300;
    const gruAll = random(sessions * time * a.hidden, rng);
    const maskAll = new Uint8Array(sessions * time).fill(1);
    const gruOne = Array.from({ length: sessions }, (_, s) =>
      gruAll.slice(s * time * a.hidden, (s + 1) * time * a.hidden),
    );
    const maskOne = new Uint8Array(time).fill(1);
    batching.push(
      await compare(
        `encoder ${time} steps`,
        sessions,
        Math.max(5, Math.floor(repeats / 2)),
        async () => {
          for (let s = 0; s < sessions; s++) {
            await engine.encode({
              branch: 'video',
              batch: 1,
              time,
              gru: gruOne[s] as Float32Array,
              mask: maskOne,
            });
          }
        },
        () => engine.encode({ branch: 'video', batch: sessions, time, gru: gruAll, mask: maskAll }),
      ),
    );
  } finally {
    await engine.close();
    await pool.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }
  return { machine: machineInfo(), model: `${pkg.card.name}@${pkg.card.version}`, rows, batching };
}

async function compare(
  op: string,
  sessions: number,
  repeats: number,
  unbatched: () => Promise<unknown>,
  batched: () => Promise<unknown>,
): Promise<ModelBenchResult['batching'][number]> {
  const u: number[] = [];
  const b: number[] = [];
  await unbatched();
  await batched();
  // Interleaved, so drift in machine load hits both sides alike.
  for (let i = 0; i < repeats; i++) {
    let t0 = performance.now();
    await unbatched();
    u.push(performance.now() - t0);
    t0 = performance.now();
    await batched();
    b.push(performance.now() - t0);
  }
  const unbatchedMs = summarize(u);
  const batchedMs = summarize(b);
  return { op, sessions, unbatchedMs, batchedMs, speedup: unbatchedMs.medianMs / batchedMs.medianMs };
}

export function formatModelBench(r: ModelBenchResult): string {
  const lines = [
    `machine: ${describeMachine(r.machine)}`,
    `model:   ${r.model} (onnxruntime-node CPU, 1 intra-op thread)`,
    '',
    table([
      ['measure', 'unit', 'n', 'median ms', 'p95 ms', 'max ms'],
      ...r.rows.map((row) => [
        row.name,
        row.unit,
        String(row.summary.n),
        fmt(row.summary.medianMs),
        fmt(row.summary.p95Ms),
        fmt(row.summary.maxMs),
      ]),
    ]),
    '',
    table([
      [
        'batched vs unbatched',
        'sessions',
        'one call each: median / p95 ms',
        'one batched call: median / p95 ms',
        'sessions/s unbatched',
        'sessions/s batched',
        'ratio',
      ],
      ...r.batching.map((b) => [
        b.op,
        String(b.sessions),
        `${fmt(b.unbatchedMs.medianMs)} / ${fmt(b.unbatchedMs.p95Ms)}`,
        `${fmt(b.batchedMs.medianMs)} / ${fmt(b.batchedMs.p95Ms)}`,
        ((b.sessions * 1000) / b.unbatchedMs.medianMs).toFixed(0),
        ((b.sessions * 1000) / b.batchedMs.medianMs).toFixed(0),
        `${b.speedup.toFixed(2)}x`,
      ]),
    ]),
  ];
  return lines.join('\n');
}
