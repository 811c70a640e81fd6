import { workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { EriError, isEriError } from '../errors.js';
import { AudioFeaturizer } from './audio/audio-features.js';
import { loadVoiceActivityDetector } from './audio/vad-node.js';
import { createFaceAnalyzer } from './face/face-backend.js';
import type { FaceAnalyzerBackend } from './face/face-vector.js';
import { analyzeAudio, analyzeFace } from './feature-analysis.js';
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
  audio ??= loadVoiceActivityDetector().then((vad) => new AudioFeaturizer(vad));
  audio.catch(() => {
    audio = undefined;
  });
  return audio;
}

/** A reply whose buffers are moved to the pool, not copied (piscina's Transferable). */
function withTransfer(value: FeatureWorkerReply, transfer: ArrayBuffer[]): FeatureWorkerReply {
  return move({
    get [transferableSymbol]() {
      return transfer;
    },
    get [valueSymbol]() {
      return value;
    },
  }) as unknown as FeatureWorkerReply;
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
        // The meshes stay here: only the features cross to the session (a 478-point array per face
        // would cost a structured clone on every frame).
        const face = await analyzeFace(await faceAnalyzer(), task.rgb, task.width, task.height, task.follow);
        const reply: FeatureWorkerReply = { ok: true, kind: 'face', ...face };
        // The frame's buffer goes back to be filled with a later frame (FrameBuffers), when it is wholly
        // this frame's: a transferred buffer is, a copied view's parent might not be.
        const { rgb } = task;
        if (rgb.byteOffset !== 0 || rgb.byteLength !== rgb.buffer.byteLength) return reply;
        return withTransfer({ ...reply, frame: rgb }, [rgb.buffer as ArrayBuffer]);
      }
      case 'audio': {
        const audio = await analyzeAudio(await audioFeaturizer(), task.samples, task.coverage, task.state);
        return { ok: true, kind: 'audio', ...audio };
      }
    }
  } catch (error) {
    const e = isEriError(error) ? error : new EriError('ERI_ERR_FEATURES', (error as Error).message);
    return { ok: false, code: e.code, message: e.message };
  }
}
