import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ACTION_UNITS, MEL_BANDS } from '../../src/contracts/feature-spec.js';
import { AudioFeaturizer, initialAudioState } from '../../src/features/audio/audio-features.js';
import { SpectralAnalyzer } from '../../src/features/audio/spectral.js';
import { loadVoiceActivityDetector } from '../../src/features/audio/vad-node.js';
import { actionUnits, MESH_POINTS } from '../../src/features/face/action-units.js';
import { chooseFace, iou } from '../../src/features/face/track.js';
import { SeededRandom } from '../../src/model/init.js';

/** A face-like random mesh: random points, but eyes level and the mouth below them. */
function randomMesh(seed: number): number[][] {
  const rng = new SeededRandom(seed);
  const mesh = Array.from({ length: MESH_POINTS }, () => [
    rng.uniform(100, 300),
    rng.uniform(100, 300),
    rng.uniform(-20, 20),
  ]);
  const set = (i: number, p: number[]) => {
    mesh[i] = p;
  };
  set(33, [150, 150, 0]);
  set(133, [180, 150, 0]);
  set(362, [220, 150, 0]);
  set(263, [250, 150, 0]);
  set(13, [200, 250, 0]);
  set(14, [200, 258, 0]);
  return mesh;
}

function transform(mesh: number[][], scale: number, angle: number, shift: [number, number]): number[][] {
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  return mesh.map(([x = 0, y = 0, z = 0]) => [
    scale * (c * x - s * y) + shift[0],
    scale * (s * x + c * y) + shift[1],
    scale * z,
  ]);
}

describe('action units from the mesh', () => {
  it('give 17 values, the same whatever the face size, in-plane rotation and position', () => {
    for (const seed of [1, 2, 3]) {
      const mesh = randomMesh(seed);
      const base = actionUnits(mesh);
      assert.equal(base.length, ACTION_UNITS.length);
      const moved = actionUnits(transform(mesh, 2.7, 0.4, [-50, 80]));
      base.forEach((v, i) => {
        assert.ok(Math.abs(v - (moved[i] as number)) < 1e-4, `${ACTION_UNITS[i]}: ${v} vs ${moved[i]}`);
      });
    }
  });

  it('rise with the geometry they stand for: an open jaw raises AU25 and AU26, raised corners AU12', () => {
    const mesh = randomMesh(4);
    const base = actionUnits(mesh);
    const open = mesh.map((p) => [...p]);
    const y = (i: number) => (open[i] as number[])[1] as number;
    (open[14] as number[])[1] = y(14) + 20; // lower inner lip down
    (open[17] as number[])[1] = y(14) + 10;
    (open[152] as number[])[1] = y(14) + 60;
    const jaw = actionUnits(open);
    const idx = (name: string) => ACTION_UNITS.indexOf(name as (typeof ACTION_UNITS)[number]);
    assert.ok((jaw[idx('AU25_lips_part')] as number) > (base[idx('AU25_lips_part')] as number));
    assert.ok((jaw[idx('AU26_jaw_drop')] as number) > (base[idx('AU26_jaw_drop')] as number));
    const smile = mesh.map((p) => [...p]);
    (smile[61] as number[])[1] = 240;
    (smile[291] as number[])[1] = 240;
    assert.ok((actionUnits(smile)[idx('AU12_lip_corner_pull')] as number) > 0.1);
  });

  it('are all zero without a full mesh', () => {
    assert.deepEqual(Array.from(actionUnits([[1, 2, 3]])), new Array(ACTION_UNITS.length).fill(0));
  });
});

describe('face tracking', () => {
  it('keeps following the same face while it is detected, even when another is more prominent', () => {
    const small: [number, number, number, number] = [0.1, 0.1, 0.1, 0.1];
    const big: [number, number, number, number] = [0.4, 0.3, 0.3, 0.4];
    assert.equal(chooseFace([{ box: small }, { box: big }], undefined), 1, 'first pick: the prominent face');
    assert.equal(chooseFace([{ box: big }, { box: small }], small), 1, 'then the tracked one');
    assert.equal(
      chooseFace([{ box: [0.11, 0.1, 0.1, 0.1] }, { box: big }], small),
      0,
      'it may move a little',
    );
    assert.equal(chooseFace([{ box: big }], small), 0, 'gone: the other takes over');
    assert.equal(chooseFace([], small), -1);
    assert.ok(Math.abs(iou(small, small) - 1) < 1e-12);
  });
});

describe('audio features', () => {
  it('put a tone in the mel band of its frequency', () => {
    const spectral = new SpectralAnalyzer();
    const logMel = new Float64Array(MEL_BANDS);
    const mfcc = new Float64Array(13);
    const peak = (hz: number) => {
      const samples = Float32Array.from({ length: 400 }, (_, n) => Math.sin((2 * Math.PI * hz * n) / 16000));
      spectral.frame(samples, 0, logMel, mfcc);
      return logMel.indexOf(Math.max(...logMel));
    };
    assert.ok(peak(300) < peak(1000) && peak(1000) < peak(4000), `${peak(300)} ${peak(1000)} ${peak(4000)}`);
  });

  it('silence: energy at its floor, no speech; missing audio: all zero and the state untouched', async () => {
    const vad = await loadVoiceActivityDetector();
    try {
      const featurizer = new AudioFeaturizer(vad);
      const state = initialAudioState();
      const silent = await featurizer.step(new Float32Array(1600), 1, state);
      assert.equal(silent.vector[silent.vector.length - 3], -10);
      assert.ok(silent.speech < 0.2);
      assert.equal(silent.vector[silent.vector.length - 1], 1);
      const missing = await featurizer.step(new Float32Array(1600), 0, silent.state);
      assert.ok(missing.vector.every((v) => v === 0));
      assert.equal(missing.state, silent.state);
    } finally {
      await vad.close();
    }
  });
});
