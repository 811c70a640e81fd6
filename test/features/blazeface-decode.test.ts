import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  candidatesFromTracked,
  type DetectorSettings,
  detectedBoxes,
  nonMaxSuppression,
} from '../../src/features/face/blazeface-decode.js';
import { squareAround } from '../../src/features/face/mesh-geometry.js';

const settings: DetectorSettings = {
  inputSize: 256,
  scale: 1.4,
  maxFaces: 3,
  iouThreshold: 0.1,
  minConfidence: 0.2,
};

describe('detector decoding', () => {
  it('NMS keeps the best of overlapping boxes, drops low scores, and stops at maxFaces', () => {
    const kept = nonMaxSuppression(
      [
        { box: [0, 0, 10, 10], score: 0.6 },
        { box: [1, 1, 11, 11], score: 0.9 },
        { box: [50, 50, 60, 60], score: 0.19 },
        { box: [100, 0, 110, 10], score: 0.5 },
        { box: [200, 0, 210, 10], score: 0.4 },
        { box: [0, 200, 10, 210], score: 0.3 },
      ],
      settings,
    );
    assert.deepEqual(
      kept.map((k) => k.score),
      [0.9, 0.5, 0.4],
    );
  });

  it('a followed face decodes back to the square box around its own centre', () => {
    const [width, height] = [640, 480];
    const face = { box: [0.4, 0.3, 0.2, 0.25] as const, boxScore: 0.88 };
    const [box] = detectedBoxes(candidatesFromTracked([face], settings), settings, width, height);
    assert.ok(box);
    const [x, y, w, h] = face.box;
    assert.deepEqual(
      box.corners,
      squareAround([x * width, y * height, (x + w) * width, (y + h) * height], 1),
    );
    assert.ok(Math.abs(box.confidence - 0.88) < 1e-6);
  });
});
