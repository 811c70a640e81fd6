import { workerData } from 'node:worker_threads';
import { EriError, isEriError } from '../errors.js';
import { AudioFeaturizer } from './audio/audio-features.js';
import { VoiceActivityDetector } from './audio/vad.js';
import { createFaceAnalyzer } from './face/face-backend.js';
import type { FaceAnalyzerBackend } from './face/face-vector.js';
import type { FeatureTask, FeatureWorkerOptions, FeatureWorkerReply } from './pool.js';

/**
 * Feature worker thread: one face analyzer and one audio featurizer, loaded on first use and shared by
 * every session the pool serves. Tasks carry all per-session state, so any worker can take any task.
 */

const options = (workerData ?? {}) as FeatureWorkerOptions;
let face: Promise<FaceAnalyzerBackend> | undefined;
let audio: Promise<AudioFeaturizer> | undefined;

function faceAnalyzer(): Promise<FaceAnalyzerBackend> {
  face ??= createFaceAnalyzer(options.face ?? {});
  face.catch(() => {
    face = undefined;
  });
  return face;
}

function audioFeaturizer(): Promise<AudioFeaturizer> {
  audio ??= VoiceActivityDetector.create().then((vad) => new AudioFeaturizer(vad));
  audio.catch(() => {
    audio = undefined;
  });
  return audio;
}

export default async function run(task: FeatureTask): Promise<FeatureWorkerReply> {
  try {
    switch (task.kind) {
      case 'ping':
        return { ok: true, kind: 'ping' };
      case 'warmup': {
        const f = await faceAnalyzer();
        await audioFeaturizer();
        return { ok: true, kind: 'warmup', backend: f.backend };
      }
      case 'face': {
        const analyzer = await faceAnalyzer();
        const t0 = performance.now();
        const { faces, timings } = await analyzer.analyze(task.rgb, task.width, task.height, task.follow);
        // The mesh stays here: only the features cross to the session (a 478-point array per face
        // would cost a structured clone on every frame).
        const features = faces.map(({ mesh: _mesh, ...face }) => face);
        return { ok: true, kind: 'face', faces: features, timings, totalMs: performance.now() - t0 };
      }
      case 'audio': {
        const featurizer = await audioFeaturizer();
        const t0 = performance.now();
        const result = await featurizer.step(task.samples, task.coverage, task.state);
        return { ok: true, kind: 'audio', ...result, totalMs: performance.now() - t0 };
      }
    }
  } catch (error) {
    const e = isEriError(error) ? error : new EriError('ERI_ERR_FEATURES', (error as Error).message);
    return { ok: false, code: e.code, message: e.message };
  }
}
