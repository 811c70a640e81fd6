#!/usr/bin/env node
// Per-step expression probabilities from a second expression model shipped in npm, the `faceapi`
// teacher candidate of eri_train: @vladmandic/face-api's own face detector (tinyFaceDetector) and its
// expression net (faceExpressionNet), on tfjs's WebAssembly backend, both from the package's `model/`
// folder. An offline labelling tool for the starter build: never on the server's path.
//
// Frames come from the project's own decoder at the feature rate, so step i here is row i of the
// extracted features. Every `--every`-th step is analysed (a clip's label is a mean over its steps);
// the others, and steps where face-api finds no face, are null.
//
// Usage:
//   node models/starter/faceapi-teacher.mjs <dataset-dir> <features-dir> [--every N]
//       every clip of <features-dir>/index.json (its `source` video in <dataset-dir>)
//       -> <features-dir>/faceapi.json
//   node models/starter/faceapi-teacher.mjs --video <clip> --out <file.json> [--every N]
//       one video -> { steps: [...] } (the held-out running check)
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeMedia } from '../../dist/src/features/decode.js';

/** eri_train's EXPRESSIONS order (teachers.py), so the expr mapping applies unchanged. */
const EXPRESSIONS = ['angry', 'disgusted', 'fearful', 'happy', 'sad', 'surprised', 'neutral'];
const RATE_HZ = 10;
const SIZE = { width: 640, height: 480 };
const DETECTOR = { inputSize: 416, scoreThreshold: 0.3 };
/** Bumped when what this writes changes; a file of another version is recomputed. */
const VERSION = 1;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { every: { type: 'string', default: '2' }, video: { type: 'string' }, out: { type: 'string' } },
});
const every = Number(values.every);
if (!Number.isInteger(every) || every < 1)
  throw new Error(`--every must be a positive integer, not ${values.every}`);

const require = createRequire(import.meta.url);
const packageDir = dirname(require.resolve('@vladmandic/face-api/package.json'));
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
const tf = faceapi.tf;
await tf.setBackend('wasm');
await tf.ready();
const models = join(packageDir, 'model');
await faceapi.nets.tinyFaceDetector.loadFromDisk(models);
await faceapi.nets.faceExpressionNet.loadFromDisk(models);
const { version } = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8'));
const detector = new faceapi.TinyFaceDetectorOptions(DETECTOR);

/** Probabilities in EXPRESSIONS order for each step of `video` (null: not analysed, or no face). */
async function stepProbabilities(video) {
  const steps = [];
  for await (const step of decodeMedia(video, { rateHz: RATE_HZ, ...SIZE })) {
    if (step.index % every !== 0 || !step.frame) {
      steps.push(null);
      continue;
    }
    const image = tf.tensor3d(step.frame, [SIZE.height, SIZE.width, 3], 'int32');
    try {
      const found = await faceapi.detectSingleFace(image, detector).withFaceExpressions();
      steps.push(found ? EXPRESSIONS.map((e) => Number(found.expressions[e].toFixed(6))) : null);
    } finally {
      image.dispose();
    }
  }
  return steps;
}

const describe = {
  version: VERSION,
  what: `@vladmandic/face-api ${version}: tinyFaceDetector (input ${DETECTOR.inputSize}, score >= ${DETECTOR.scoreThreshold}) and faceExpressionNet on tfjs-wasm, every ${every}th step at ${RATE_HZ} Hz, frames ${SIZE.width}x${SIZE.height} from eri's decoder`,
  expressions: EXPRESSIONS,
  rateHz: RATE_HZ,
  every,
};

async function writeAtomically(path, value) {
  await writeFile(`${path}.partial`, `${JSON.stringify(value)}\n`);
  await rename(`${path}.partial`, path);
}

if (values.video) {
  if (!values.out) throw new Error('--video needs --out');
  await writeAtomically(values.out, { ...describe, steps: await stepProbabilities(values.video) });
} else {
  const [datasetDir, featuresDir] = positionals;
  if (!datasetDir || !featuresDir)
    throw new Error('usage: faceapi-teacher.mjs <dataset-dir> <features-dir> [--every N]');
  const index = JSON.parse(await readFile(join(featuresDir, 'index.json'), 'utf8'));
  const out = join(featuresDir, 'faceapi.json');
  // Resumable: clips already labelled with the same settings and the same step count are kept.
  const previous = existsSync(out) ? JSON.parse(await readFile(out, 'utf8')) : null;
  const same = previous && previous.version === VERSION && previous.every === every;
  const clips = {};
  const started = performance.now();
  for (const [i, clip] of index.clips.entries()) {
    const kept = same ? previous.clips[clip.id] : undefined;
    if (kept && kept.length === clip.steps) {
      clips[clip.id] = kept;
      continue;
    }
    const source = isAbsolute(clip.source) ? clip.source : resolve(datasetDir, clip.source);
    const steps = await stepProbabilities(source);
    // The decoder gives the extractor's steps; a different count would misalign every label.
    if (steps.length !== clip.steps)
      throw new Error(`${clip.id}: ${steps.length} decoded steps, the features have ${clip.steps}`);
    clips[clip.id] = steps;
    if (i % 20 === 0) {
      await writeAtomically(out, { ...describe, clips });
      const s = ((performance.now() - started) / 1000).toFixed(0);
      console.error(`faceapi teacher: ${i + 1}/${index.clips.length} clips (${s} s)`);
    }
  }
  await writeAtomically(out, { ...describe, clips });
  console.error(`faceapi teacher: ${Object.keys(clips).length} clips -> ${out}`);
}
