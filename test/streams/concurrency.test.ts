import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { from, lastValueFrom, tap } from 'rxjs';
import type { FeatureStep } from '../../src/contracts/feature-step.js';
import { SeededRandom } from '../../src/model/init.js';
import { EriModel } from '../../src/model/model.js';
import { initRandomPackage } from '../../src/model/package-tools.js';
import { estimateSteps } from '../../streams/estimate-steps.js';
import { InferenceBatcher } from '../../streams/inference-batcher.js';

// 20 sessions, 60 s of media each (600 steps at 10 Hz), all in one process sharing one batcher and a
// 2-worker inference pool, the media arriving at 4x real time (15 s). W = 10 s and the final estimate's
// history = 10 s, so everything a session holds is at its bound after 10 s: memory must then stay flat.

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const SESSIONS = 20;
const STEPS = 600;
const W = 100;
const S = 10;
const SPEED = 4;

async function* steps(
  seed: number,
  dims: { video: number; audio: number },
  start: number,
): AsyncGenerator<FeatureStep> {
  const rng = new SeededRandom(seed);
  for (let index = 0; index < STEPS; index++) {
    const due = start + (index * 100) / SPEED;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    yield {
      index,
      t: index / 10,
      video: rng.fill([dims.video], () => rng.normal()).data,
      audio: rng.fill([dims.audio], () => rng.normal()).data,
      face: { present: true, confidence: 0.9 },
      speech: 0,
      audioCoverage: 1,
      hasFrame: true,
    };
  }
}

function memoryMiB(): number {
  gc();
  const m = process.memoryUsage();
  return (m.heapUsed + m.arrayBuffers) / 2 ** 20;
}

it('20 concurrent sessions for 60 s of media: an estimate every S per session, none starves, memory flat', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'eri-test-'));
  await initRandomPackage(dir, { seed: 1 });
  const model = await EriModel.load(dir, { engine: 'pool', workers: 2 });
  try {
    const batcher = new InferenceBatcher(model.engine, model.architecture);
    const dims = { video: model.architecture.video.inputDim, audio: model.architecture.audio.inputDim };
    const counts = new Array<number>(SESSIONS).fill(0);
    const samples: { step: number; mib: number }[] = [];
    let dropped = 0;
    const start = performance.now();
    const runs = Array.from({ length: SESSIONS }, (_, s) =>
      lastValueFrom(
        from(steps(s, dims, start)).pipe(
          estimateSteps(
            batcher,
            { sessionId: `s${s}`, roomId: 'r', model: 'm@1', rateHz: 10, analysis: 'server' },
            { windowSteps: W, strideSteps: S, maxFinalSteps: W, onDroppedEstimate: () => dropped++ },
          ),
          tap((e) => {
            if (e.final) return;
            counts[s] = (counts[s] ?? 0) + 1;
            assert.equal(
              Math.round(e.windowEnd * 10),
              counts[s] * S,
              `session ${s}: estimates every ${S} steps, in order`,
            );
            const n0 = counts[0] ?? 0;
            if (s === 0 && n0 % 5 === 0) samples.push({ step: n0 * S, mib: memoryMiB() });
          }),
        ),
      ),
    );
    await Promise.all(runs);
    assert.equal(dropped, 0, 'no estimate dropped');
    assert.deepEqual(counts, new Array(SESSIONS).fill(STEPS / S), 'every session got every running estimate');
    const warm = samples.filter((x) => x.step >= 150);
    const first = warm.slice(0, 3).map((x) => x.mib);
    const last = warm.slice(-3).map((x) => x.mib);
    const growth = Math.min(...last) - Math.min(...first);
    assert.ok(
      growth < 8,
      `memory grew ${growth.toFixed(1)} MiB after warm-up (${JSON.stringify(warm.map((x) => Math.round(x.mib)))})`,
    );
    assert.ok(
      batcher.stats.gruSteps / batcher.stats.gruCalls > 4,
      `GRU steps were batched across sessions (mean ${(batcher.stats.gruSteps / batcher.stats.gruCalls).toFixed(1)})`,
    );
  } finally {
    await model.close();
    await rm(dir, { recursive: true, force: true });
  }
});
