import { ERI_FACE_AUDIO_SPEC, MEL_BANDS, MFCC_COEFFS } from '../../contracts/feature-spec.js';
import { HOP, SpectralAnalyzer, WINDOW } from './spectral.js';
import { initialVadState, VAD_CHUNK, type VadState, type VoiceActivityDetector } from './vad.js';

/**
 * One analysis step's audio features (spec eri-face-audio-v2): log-mel and MFCC mean and std over the
 * step's 10 ms frames, log energy, voice activity and coverage. Frames whose window would start before
 * the step use the previous step's last samples, so a step's features depend only on the audio up to its
 * end: the same whether a clip is analysed offline or arrives live.
 */

export interface AudioState {
  /** The previous step's last WINDOW - HOP samples. */
  tail: Float32Array;
  vad: VadState;
  /** Samples not yet given to the VAD (fewer than VAD_CHUNK). */
  vadPending: Float32Array;
}

export function initialAudioState(): AudioState {
  return { tail: new Float32Array(WINDOW - HOP), vad: initialVadState(), vadPending: new Float32Array(0) };
}

const ENERGY_FLOOR = -10;

export class AudioFeaturizer {
  readonly #spectral = new SpectralAnalyzer();
  readonly #vad: VoiceActivityDetector;

  constructor(vad: VoiceActivityDetector) {
    this.#vad = vad;
  }

  /** Features of one step; returns the state for the next step (the input state is not modified). */
  async step(
    samples: Float32Array,
    coverage: number,
    state: AudioState,
  ): Promise<{ vector: Float32Array; state: AudioState; speech: number }> {
    const spec = ERI_FACE_AUDIO_SPEC.audio;
    const vector = new Float32Array(spec.dim);
    if (coverage <= 0) {
      // No audio at all in this step: every value 0, and the state carries on untouched.
      return { vector, state, speech: 0 };
    }
    const context = new Float32Array(state.tail.length + samples.length);
    context.set(state.tail);
    context.set(samples, state.tail.length);
    const frames = Math.floor((context.length - WINDOW) / HOP) + 1;
    const logMel = new Float64Array(MEL_BANDS);
    const mfcc = new Float64Array(MFCC_COEFFS);
    const sum = new Float64Array(MEL_BANDS + MFCC_COEFFS);
    const sumSq = new Float64Array(MEL_BANDS + MFCC_COEFFS);
    for (let f = 0; f < frames; f++) {
      this.#spectral.frame(context, f * HOP, logMel, mfcc);
      for (let i = 0; i < MEL_BANDS; i++) {
        sum[i] = (sum[i] as number) + (logMel[i] as number);
        sumSq[i] = (sumSq[i] as number) + (logMel[i] as number) ** 2;
      }
      for (let i = 0; i < MFCC_COEFFS; i++) {
        const j = MEL_BANDS + i;
        sum[j] = (sum[j] as number) + (mfcc[i] as number);
        sumSq[j] = (sumSq[j] as number) + (mfcc[i] as number) ** 2;
      }
    }
    const mean = (i: number) => (sum[i] as number) / frames;
    const std = (i: number) => Math.sqrt(Math.max(0, (sumSq[i] as number) / frames - mean(i) ** 2));
    let at = 0;
    for (let i = 0; i < MEL_BANDS; i++) vector[at++] = mean(i);
    for (let i = 0; i < MEL_BANDS; i++) vector[at++] = std(i);
    for (let i = 0; i < MFCC_COEFFS; i++) vector[at++] = mean(MEL_BANDS + i);
    for (let i = 0; i < MFCC_COEFFS; i++) vector[at++] = std(MEL_BANDS + i);
    let energy = 0;
    for (const s of samples) energy += s * s;
    vector[at++] = Math.max(ENERGY_FLOOR, Math.log10(energy / samples.length));

    // Voice activity over whole 512-sample chunks; a chunk belongs to the step in which it completes.
    const pending = new Float32Array(state.vadPending.length + samples.length);
    pending.set(state.vadPending);
    pending.set(samples, state.vadPending.length);
    const vad = { h: state.vad.h, c: state.vad.c };
    let speech = 0;
    let chunks = 0;
    let offset = 0;
    for (; offset + VAD_CHUNK <= pending.length; offset += VAD_CHUNK) {
      speech += await this.#vad.chunk(pending.subarray(offset, offset + VAD_CHUNK), vad);
      chunks++;
    }
    const speechProb = chunks > 0 ? speech / chunks : 0;
    vector[at++] = speechProb;
    vector[at++] = coverage;
    return {
      vector,
      speech: speechProb,
      state: {
        tail: context.slice(context.length - (WINDOW - HOP)),
        vad,
        vadPending: pending.slice(offset),
      },
    };
  }
}
