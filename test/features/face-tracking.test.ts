import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cosine as cosineOf } from '../../src/bench/face-parity.js';
import type { MediaStep } from '../../src/contracts/media-step.js';
import { DEFAULT_ANALYSIS_SIZE } from '../../src/contracts/media-step.js';
import { portraitPath, portraitsMissing } from '../../src/dataset/portraits.js';
import { decodeMedia } from '../../src/features/decode.js';
import { extractFeatures } from '../../src/features/extract.js';
import { createFaceAnalyzer } from '../../src/features/face/face-backend.js';
import type { FaceAnalyzerBackend } from '../../src/features/face/face-vector.js';
import {
  afterFrame,
  facesToFollow,
  initialTrackingState,
  type TrackedFace,
} from '../../src/features/face/track.js';
import type { FeaturizedStep } from '../../src/features/featurizer.js';
import { FeaturePool } from '../../src/features/pool.js';
import { ffmpeg } from '../media.js';

const face = (x: number, boxScore = 0.9): TrackedFace => ({ box: [x, 0.2, 0.3, 0.4], boxScore });

describe('face tracking schedule', () => {
  it('runs the detector when nothing is followed, then every detectEvery frames', () => {
    let state = initialTrackingState();
    const detectorRuns: boolean[] = [];
    for (let i = 0; i < 25; i++) {
      const follow = facesToFollow(state, 10);
      detectorRuns.push(follow.length === 0);
      state = afterFrame(state, { detector: follow.length === 0, faces: [face(0.1)] }, 0.66);
    }
    const at = detectorRuns.flatMap((d, i) => (d ? [i] : []));
    assert.deepEqual(at, [0, 10, 20]);
  });

  it('never follows with detectEvery 1, and only follows faces the detector would accept', () => {
    let state = afterFrame(initialTrackingState(), { detector: true, faces: [face(0.1)] }, 0.66);
    assert.equal(facesToFollow(state, 1).length, 0);
    state = afterFrame(state, { detector: true, faces: [face(0.1, 0.5), face(0.6, 0.8)] }, 0.66);
    assert.deepEqual(facesToFollow(state, 10), [face(0.6, 0.8)]);
    state = afterFrame(state, { detector: false, faces: [] }, 0.66);
    assert.equal(facesToFollow(state, 10).length, 0, 'a lost face brings the detector back');
  });
});

const cosine = (a: Float32Array, b: Float32Array) => cosineOf(a, b, 256);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

describe('face tracking on a moving face', { skip: portraitsMissing() }, () => {
  let dir: string;
  let clip: string;
  let frames: MediaStep[];
  let analyzer: FaceAnalyzerBackend;
  const { width, height } = DEFAULT_ANALYSIS_SIZE;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eri-track-'));
    clip = join(dir, 'moving.mp4');
    // A public-domain portrait panned and zoomed for 4 s: the face moves on every frame.
    await ffmpeg(
      ...['-loop', '1', '-framerate', '25', '-i', portraitPath('grace_hopper')],
      ...['-vf', "scale=640:640,crop=w=480:h=480:x='80+60*sin(t*2)':y='80+50*sin(t*3)',scale=640:480"],
      ...['-t', '4', '-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-preset', 'ultrafast', clip],
    );
    frames = [];
    for await (const s of decodeMedia(clip, { rateHz: 10, width, height })) if (s.frame) frames.push(s);
    analyzer = await createFaceAnalyzer({});
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("following the detector's own box finds the same face without the detector", async () => {
    const frame = frames[5]?.frame as Uint8Array;
    const detected = await analyzer.analyze(frame, width, height);
    const found = detected.faces[0];
    assert.ok(found, 'the detector finds the portrait');
    assert.equal(detected.timings.detector, true);
    const tracked = await analyzer.analyze(frame, width, height, [
      { box: found.box, boxScore: found.boxScore },
    ]);
    const again = tracked.faces[0];
    assert.ok(again);
    assert.equal(tracked.timings.detector, false, 'the followed face was found without the detector');
    assert.equal(again.boxScore, found.boxScore, 'the detection score is carried');
    for (let i = 0; i < 4; i++) {
      assert.ok(
        Math.abs((again.box[i] as number) - (found.box[i] as number)) < 0.01,
        `box ${again.box} vs ${found.box}`,
      );
    }
    // Not identical: the mesh runs in a crop re-centred on itself, and moves slightly with it.
    assert.ok(
      cosine(again.vector, found.vector) > 0.93,
      `the same expression crop: cosine ${cosine(again.vector, found.vector)}`,
    );
  });

  it('a face that is not where it was followed brings the detector back on the same frame', async () => {
    const frame = frames[8]?.frame as Uint8Array;
    const result = await analyzer.analyze(frame, width, height, [{ box: [0, 0, 0.1, 0.1], boxScore: 0.9 }]);
    assert.equal(result.timings.detector, true);
    assert.equal(result.faces.length, 1, 'the detector found the face');
  });

  it('over a clip: the detector on about 1 frame in 10, the same faces and features as detecting on every frame', async () => {
    const run = async (detectEvery: number) => {
      const pool = new FeaturePool({ workers: 1, tracking: { detectEvery } });
      try {
        const out: FeaturizedStep[] = [];
        for await (const s of extractFeatures(clip, pool)) if (s.hasFrame) out.push(s);
        return out;
      } finally {
        await pool.close();
      }
    };
    const tracked = await run(10);
    const every = await run(1);
    assert.equal(tracked.length, every.length);
    assert.ok(every.every((s) => s.timings.detector));
    const detectorSteps = tracked.filter((s) => s.timings.detector).length;
    assert.ok(detectorSteps <= Math.ceil(tracked.length / 10) + 1, `detector on ${detectorSteps} steps`);
    assert.ok(tracked.every((s) => s.face.present) && every.every((s) => s.face.present));
    const similarity = tracked.map((s, i) => cosine(s.video, (every[i] as FeaturizedStep).video));
    assert.ok(median(similarity) > 0.95, `embedding cosine median ${median(similarity)}`);
  });
});
