import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { from, interval, lastValueFrom, map, Observable, Subject, take, toArray } from 'rxjs';
import type { Estimate } from '../../src/contracts/estimate.js';
import type { FeatureStep } from '../../src/contracts/feature-step.js';
import type { MediaStep } from '../../src/contracts/media-step.js';
import type { FeatureAnalysis } from '../../src/features/feature-analysis.js';
import { FrameBuffers } from '../../src/features/frame-buffers.js';
import { FeaturePool } from '../../src/features/pool.js';
import { SeededRandom } from '../../src/model/init.js';
import { EriModel } from '../../src/model/model.js';
import { initRandomPackage } from '../../src/model/package-tools.js';
import { type ServerAnalysisMedia, Session, type SessionEvent } from '../../src/sessions/session.js';
import type { AudioChunk, VideoFrame } from '../../streams/align-media.js';
import { estimateSteps } from '../../streams/estimate-steps.js';
import { featurizeSteps, type StepFeaturizer } from '../../streams/featurize-steps.js';
import { InferenceBatcher } from '../../streams/inference-batcher.js';
import { assertClose } from '../helpers.js';

const VIDEO_DIM = 12;
const AUDIO_DIM = 7;
const HIDDEN = 256;

function syntheticSteps(n: number, seed: number): FeatureStep[] {
  const rng = new SeededRandom(seed);
  return Array.from({ length: n }, (_, index) => ({
    index,
    t: index / 10,
    video: rng.fill([VIDEO_DIM], () => rng.normal()).data,
    audio: rng.fill([AUDIO_DIM], () => rng.normal()).data,
    face: { present: index % 3 !== 0, confidence: 0.9 },
    speech: index % 2 === 0 ? 0.9 : 0.1,
    audioCoverage: 1,
    hasFrame: true,
  }));
}

function stack(steps: FeatureStep[], branch: 'video' | 'audio', dim: number) {
  const data = new Float32Array(steps.length * dim);
  steps.forEach((s, i) => {
    data.set(s[branch], i * dim);
  });
  return { shape: [steps.length, dim], data };
}

describe('the estimate pipeline against the offline model', () => {
  let dir: string;
  let model: EriModel;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eri-test-'));
    await initRandomPackage(dir, { seed: 8, videoDim: VIDEO_DIM, audioDim: AUDIO_DIM });
    model = await EriModel.load(dir, { engine: 'local' });
  });
  after(async () => {
    await model?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('every running estimate = GRU over the session so far, encoder over its last W outputs; the final = predict-features', async () => {
    const W = 20;
    const S = 7;
    const steps = syntheticSteps(61, 2);
    const batcher = new InferenceBatcher(model.engine, model.architecture);
    const estimates = await lastValueFrom(
      from(steps).pipe(
        estimateSteps(
          batcher,
          { sessionId: 's', roomId: 'r', model: 'm@1', rateHz: 10, analysis: 'server' },
          { windowSteps: W, strideSteps: S },
        ),
        toArray(),
      ),
    );
    const running = estimates.filter((e) => !e.final);
    assert.equal(running.length, Math.floor(61 / S));
    for (const e of running) {
      const n = Math.round(e.windowEnd * 10);
      assert.equal(n % S, 0);
      // Offline: the GRU over steps [0, n), then the encoder over the last min(n, W) outputs.
      const tokens: Float32Array[] = [];
      for (const [branch, dim] of [
        ['video', VIDEO_DIM],
        ['audio', AUDIO_DIM],
      ] as const) {
        const seq = await model.engine.gruSequence({
          branch,
          batch: 1,
          time: n,
          x: stack(steps.slice(0, n), branch, dim).data,
          lengths: new Int32Array([n]),
        });
        const w = Math.min(n, W);
        const last = seq.y.slice((n - w) * HIDDEN, n * HIDDEN);
        tokens.push(
          await model.engine.encode({
            branch,
            batch: 1,
            time: w,
            gru: last,
            mask: new Uint8Array(w).fill(1),
          }),
        );
      }
      const offline = await model.engine.head({
        batch: 1,
        tokenVideo: tokens[0] as Float32Array,
        tokenAudio: tokens[1] as Float32Array,
      });
      assertClose(e.values, offline, 1e-4, `estimate ending at step ${n}`);
      if (n <= W) {
        const prefix = await model.predict({
          video: stack(steps.slice(0, n), 'video', VIDEO_DIM),
          audio: stack(steps.slice(0, n), 'audio', AUDIO_DIM),
        });
        assertClose(e.values, prefix.intensities, 1e-4, `shorter than W: the reference on the prefix (${n})`);
      }
      assert.equal(e.windowStart, Math.max(0, n - W) / 10);
    }
    const final = estimates.at(-1) as Estimate;
    assert.equal(final.final, true);
    assert.equal(final.seq, running.length);
    const whole = await model.predict({
      video: stack(steps, 'video', VIDEO_DIM),
      audio: stack(steps, 'audio', AUDIO_DIM),
    });
    assertClose(final.values, whole.intensities, 1e-4, 'final vs predict-features');
    assert.equal(final.coverage.face, steps.filter((s) => s.face.present).length / steps.length);
    assert.equal(final.coverage.speech, steps.filter((s) => s.speech > 0.5).length / steps.length);
    assert.ok(batcher.stats.gruCalls > 0);
  });

  it('sessions stepping together are micro-batched, and give the numbers they give alone', async () => {
    const batcher = new InferenceBatcher(model.engine, model.architecture);
    const run = (seed: number, b: InferenceBatcher) =>
      lastValueFrom(
        from(syntheticSteps(30, seed)).pipe(
          estimateSteps(
            b,
            { sessionId: `s${seed}`, roomId: 'r', model: 'm@1', rateHz: 10, analysis: 'server' },
            { windowSteps: 10, strideSteps: 10 },
          ),
          toArray(),
        ),
      );
    const together = await Promise.all([1, 2, 3, 4].map((seed) => run(seed, batcher)));
    assert.ok(
      batcher.stats.gruSteps / batcher.stats.gruCalls > 1.5,
      `mean GRU batch ${batcher.stats.gruSteps / batcher.stats.gruCalls}`,
    );
    for (const [i, seed] of [1, 2, 3, 4].entries()) {
      const alone = await run(seed, new InferenceBatcher(model.engine, model.architecture));
      alone.forEach((e, k) => {
        assertClose(
          (together[i] as Estimate[])[k]?.values ?? [],
          e.values,
          1e-5,
          `session ${seed} estimate ${k}`,
        );
      });
    }
  });
});

/** A stand-in featurizer's result: a face exactly when the step has a frame. */
function featuresOf(step: MediaStep): FeatureStep {
  return {
    index: step.index,
    t: step.t,
    video: new Float32Array(1),
    audio: new Float32Array(1),
    face: { present: Boolean(step.frame), confidence: 0 },
    speech: 0,
    audioCoverage: 1,
    hasFrame: Boolean(step.frame),
  };
}

describe('featurizeSteps under load', () => {
  it('beyond maxInFlight, frames are dropped (never steps), and order is kept', async () => {
    const started: boolean[] = [];
    const release: (() => void)[] = [];
    const featurizer: StepFeaturizer = {
      featurize: (step) => {
        started.push(Boolean(step.frame));
        return new Promise<FeatureStep>((resolve) => {
          release.push(() => resolve(featuresOf(step)));
        });
      },
    };
    const media: MediaStep[] = Array.from({ length: 8 }, (_, index) => ({
      index,
      t: index / 10,
      frame: new Uint8Array(3),
      audio: new Float32Array(1600),
      audioCoverage: 1,
    }));
    let dropped = 0;
    const out: FeatureStep[] = [];
    const done = new Promise<void>((resolve) => {
      from(media)
        .pipe(featurizeSteps(featurizer, { maxInFlight: 3, onFaceDropped: () => dropped++ }))
        .subscribe({ next: (s) => out.push(s), complete: resolve });
    });
    assert.deepEqual(started, [true, true, true, false, false, false, false, false]);
    // Release out of order: results still come out in step order.
    for (const i of [2, 0, 1, 7, 3, 4, 6, 5]) release[i]?.();
    await done;
    assert.deepEqual(
      out.map((s) => s.index),
      [0, 1, 2, 3, 4, 5, 6, 7],
    );
    assert.equal(dropped, 5);
  });
});

describe('featurizeSteps: frames dropped only while the faces run behind', () => {
  it('a burst is analysed in full while the featurizer keeps up; frames go while it is further behind than the bound', async () => {
    let delay = 0;
    const seen: boolean[] = [];
    const featurizer: StepFeaturizer = {
      get faceDelayMs() {
        return delay;
      },
      featurize: async (step) => {
        seen.push(Boolean(step.frame));
        return featuresOf(step);
      },
    };
    const media = (n: number, from0: number): MediaStep[] =>
      Array.from({ length: n }, (_, i) => ({
        index: from0 + i,
        t: (from0 + i) / 10,
        frame: new Uint8Array(3),
        audio: new Float32Array(1600),
        audioCoverage: 1,
      }));
    const source = new Subject<MediaStep>();
    let dropped = 0;
    const done = lastValueFrom(
      source.pipe(
        featurizeSteps(featurizer, { maxInFlight: 16, maxFaceDelayMs: 200, onFaceDropped: () => dropped++ }),
        toArray(),
      ),
    );
    for (const step of media(8, 0)) source.next(step); // a burst of 8, all at once
    delay = 350; // the pool falls behind
    for (const step of media(3, 8)) source.next(step);
    delay = 20; // and catches up
    for (const step of media(2, 11)) source.next(step);
    source.complete();
    const out = await done;
    assert.deepEqual(seen, [...Array(8).fill(true), false, false, false, true, true]);
    assert.equal(dropped, 3);
    assert.deepEqual(
      out.map((s) => s.index),
      Array.from({ length: 13 }, (_, i) => i),
    );
  });
});

describe('Session lifecycle', () => {
  let pool: FeaturePool;
  let dir: string;
  let model: EriModel;

  before(async () => {
    pool = new FeaturePool({ workers: 1 });
    dir = await mkdtemp(join(tmpdir(), 'eri-test-'));
    await initRandomPackage(dir, { seed: 3 });
    model = await EriModel.load(dir, { engine: 'pool', workers: 1 });
  });
  after(async () => {
    await pool?.close();
    await model?.close();
    await rm(dir, { recursive: true, force: true });
  });

  function media(seconds: number, replace: Partial<Pick<ServerAnalysisMedia, 'frames$' | 'audio$'>> = {}) {
    const W = 64;
    const H = 48;
    const frames$ = interval(1).pipe(
      take(seconds * 10),
      map((i): VideoFrame => ({ t: i / 10, rgb: new Uint8Array(W * H * 3).fill(i % 255) })),
    );
    const audio$ = interval(1).pipe(
      take(seconds * 10),
      map((i): AudioChunk => ({ t: i / 10, samples: new Float32Array(1600) })),
    );
    return {
      input: {
        mode: 'server' as const,
        frames$,
        audio$,
        frameSize: { width: W, height: H },
        pool,
        ...replace,
      },
    };
  }

  function collect(session: Session): Promise<SessionEvent[]> {
    return lastValueFrom(session.events$.pipe(toArray()));
  }

  it('created -> running -> ended: started, an estimate every stride, the final one, ended', async () => {
    const session = new Session({
      id: 'a',
      roomId: 'r',
      ...media(3),
      batcher: new InferenceBatcher(model.engine, model.architecture),
      model: 'm@1',
      rateHz: 10,
      windowSeconds: 2,
      strideSeconds: 1,
    });
    const events = collect(session);
    assert.equal(session.state, 'created');
    session.start();
    assert.equal(session.state, 'running');
    const all = await events;
    assert.equal(session.state, 'ended');
    assert.deepEqual(
      all.map((e) => (e.type === 'estimate' ? (e.estimate.final ? 'final' : 'estimate') : e.type)),
      ['session.started', 'estimate', 'estimate', 'estimate', 'final', 'session.ended'],
    );
    const ended = all.at(-1);
    assert.equal(ended?.type === 'session.ended' && ended.reason, 'normal');
    assert.equal(session.stats.steps, 30);
    assert.throws(() => session.start(), { code: 'ERI_ERR_CLOSED' });
  });

  it("frames the pipeline sheds under load go back to the analysis's frame buffers", async () => {
    // The shared pool, with buffers of its own for what this session sheds (the pool's workers return
    // analysed frames to the pool's own).
    const shed = new FrameBuffers(64);
    const analysis: FeatureAnalysis = {
      spec: pool.spec,
      options: pool.options,
      frameBuffers: shed,
      face: (rgb, w, h, follow) => pool.face(rgb, w, h, follow),
      audio: (samples, coverage, state) => pool.audio(samples, coverage, state),
    };
    const { input } = media(3);
    const session = new Session({
      id: 'shed',
      roomId: 'r',
      input: { ...input, pool: analysis },
      batcher: new InferenceBatcher(model.engine, model.architecture),
      model: 'm@1',
      rateHz: 10,
      maxInFlight: 1,
    });
    const events = collect(session);
    session.start();
    await events;
    assert.ok(session.stats.droppedFaceSteps > 0, 'one step in flight at a time sheds frames');
    assert.equal(shed.free, session.stats.droppedFaceSteps, 'every shed frame came back');
  });

  it('end() mid-way: the inputs stop, the final estimate still comes, reason client-gone', async () => {
    const never = new Observable<never>(() => {});
    const session = new Session({
      id: 'b',
      roomId: 'r',
      ...media(100, { audio$: never }),
      batcher: new InferenceBatcher(model.engine, model.architecture),
      model: 'm@1',
      rateHz: 10,
      maxWaitMs: 0,
    });
    const events = collect(session);
    session.start();
    await new Promise((r) => setTimeout(r, 300));
    session.end('client-gone');
    session.end('client-gone');
    const all = await events;
    const final = all.find((e) => e.type === 'estimate' && e.estimate.final);
    assert.ok(final, 'a final estimate');
    const ended = all.at(-1);
    assert.equal(ended?.type === 'session.ended' && ended.reason, 'client-gone');
  });

  it('an error ends the session with reason error and a code, and no final estimate', async () => {
    const broken = new Observable<VideoFrame>((s) => s.error(new Error('camera unplugged')));
    const session = new Session({
      id: 'c',
      roomId: 'r',
      ...media(1, { frames$: broken }),
      batcher: new InferenceBatcher(model.engine, model.architecture),
      model: 'm@1',
      rateHz: 10,
    });
    const events = collect(session);
    session.start();
    const all = await events;
    const ended = all.at(-1);
    assert.ok(ended?.type === 'session.ended');
    assert.equal(ended.reason, 'error');
    assert.match(ended.error?.message ?? '', /camera unplugged/);
    assert.equal(all.filter((e) => e.type === 'estimate').length, 0);
  });

  it('steps with nothing captured in them (before the media starts) are counted, but no latency is taken from them', async () => {
    const late = <T>(make: (i: number) => T) =>
      interval(1).pipe(
        take(20),
        map((i) => make(i + 10)),
      );
    const seen: { latency: boolean; face: boolean }[] = [];
    const session = new Session({
      id: 'd',
      roomId: 'r',
      ...media(2, {
        // The media begins at 1 s of session time: steps 0-9 only fill the timeline.
        frames$: late((i): VideoFrame => ({ t: i / 10, rgb: new Uint8Array(64 * 48 * 3) })),
        audio$: late((i): AudioChunk => ({ t: i / 10, samples: new Float32Array(1600) })),
      }),
      batcher: new InferenceBatcher(model.engine, model.architecture),
      model: 'm@1',
      rateHz: 10,
      observer: {
        step: (info) => seen.push({ latency: info.captureToFeaturesSeconds !== undefined, face: info.face }),
        faceStepDropped: () => {},
        estimateDropped: () => {},
      },
    });
    const events = collect(session);
    session.start();
    await events;
    assert.equal(seen.length, 30);
    assert.deepEqual(
      seen.map((s) => s.latency),
      [...Array(10).fill(false), ...Array(20).fill(true)],
    );
  });
});
