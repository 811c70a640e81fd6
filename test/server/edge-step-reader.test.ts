import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeEdgeStep } from '../../src/contracts/edge-steps.js';
import { blockOffset, ERI_FACE_AUDIO_SPEC } from '../../src/contracts/feature-spec.js';
import type { FeatureStep } from '../../src/contracts/feature-step.js';
import { checkEdgeAnalysis, EdgeStepReader, MAX_GAP_SECONDS } from '../../src/server/edge-step-reader.js';

const spec = ERI_FACE_AUDIO_SPEC;
const layout = { videoDim: spec.video.dim, audioDim: spec.audio.dim };

function step(present: boolean): FeatureStep {
  return {
    index: 0,
    t: 0,
    video: new Float32Array(spec.video.dim).fill(0.5),
    audio: new Float32Array(spec.audio.dim).fill(-1),
    face: present ? { present, confidence: 0.8, box: [0.1, 0.1, 0.5, 0.5] } : { present, confidence: 0.3 },
    speech: 0.2,
    audioCoverage: 1,
    hasFrame: true,
  };
}

describe('edge step reader (untrusted feature steps)', () => {
  it('decodes what the client encoded; the face block follows the step fields; no face means no video', () => {
    const reader = new EdgeStepReader(spec);
    const face = blockOffset(spec.video, 'face');
    const [withFace] = reader.read(0, encodeEdgeStep(step(true), layout));
    assert.equal(withFace?.index, 0);
    assert.equal(withFace?.video[0], 0.5);
    assert.equal(withFace?.video[face], 1);
    assert.ok(Math.abs((withFace?.video[face + 1] ?? 0) - 0.8) < 1e-6);
    assert.deepEqual(
      [...(withFace?.face.box ?? [])].map((v) => Math.round(v * 10) / 10),
      [0.1, 0.1, 0.5, 0.5],
    );
    const [without] = reader.read(0.1, encodeEdgeStep(step(false), layout));
    assert.equal(without?.face.present, false);
    assert.equal(without?.video[0], 0, 'a step without a face has no face features');
    assert.ok(Math.abs((without?.video[face + 1] ?? 0) - 0.3) < 1e-6, 'but keeps the rejected confidence');
    assert.equal(without?.audio[0], -1);
  });

  it('fills skipped steps as empty ones, up to a bounded gap; refuses steps off the grid or out of order', () => {
    const reader = new EdgeStepReader(spec);
    reader.read(0, encodeEdgeStep(step(true), layout));
    const filled = reader.read(0.5, encodeEdgeStep(step(true), layout));
    assert.deepEqual(
      filled.map((s) => [s.index, s.hasFrame]),
      [
        [1, false],
        [2, false],
        [3, false],
        [4, false],
        [5, true],
      ],
    );
    assert.throws(() => reader.read(0.55, encodeEdgeStep(step(true), layout)), /grid/);
    assert.throws(() => reader.read(0.3, encodeEdgeStep(step(true), layout)), /not after/);
    assert.throws(
      () => reader.read(0.5 + MAX_GAP_SECONDS + 1, encodeEdgeStep(step(true), layout)),
      (e: { code?: string }) => e.code === 'ERI_ERR_INVALID_STATE',
    );
  });

  it('no faster than real time: a burst of two seconds, then ERI_ERR_LIMIT', () => {
    const reader = new EdgeStepReader(spec);
    const payload = encodeEdgeStep(step(true), layout);
    let refused = 0;
    for (let k = 0; k < 40; k++) {
      try {
        reader.read(k / 10, payload);
      } catch (e) {
        assert.equal((e as { code?: string }).code, 'ERI_ERR_LIMIT');
        refused++;
      }
    }
    assert.ok(refused >= 15 && refused <= 21, `${refused} of 40 refused`);
  });

  it('the declared analysis must be the model spec exactly', () => {
    const declared = {
      mode: 'edge' as const,
      spec: spec.id,
      videoDim: spec.video.dim,
      audioDim: spec.audio.dim,
      rateHz: 10,
    };
    checkEdgeAnalysis(declared, spec);
    for (const bad of [{ spec: 'other' }, { videoDim: 1 }, { audioDim: 1 }, { rateHz: 30 }])
      assert.throws(
        () => checkEdgeAnalysis({ ...declared, ...bad }, spec),
        (e: { code?: string }) => e.code === 'ERI_ERR_FEATURE_SPEC_MISMATCH',
      );
  });
});
