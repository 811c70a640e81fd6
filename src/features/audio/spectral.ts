import FFT from 'fft.js';
import { MEL_BANDS, MFCC_COEFFS } from '../../contracts/feature-spec.js';
import { AUDIO_SAMPLE_RATE } from '../../contracts/media-step.js';

/**
 * Log-mel spectra and MFCCs of 16 kHz audio: 25 ms Hann windows every 10 ms, a 512-point FFT, 64 HTK
 * mel bands over 0-8 kHz, natural log floored at 1e-10, and the DCT-II (orthonormal) of the log-mel
 * giving 13 MFCCs. Written here rather than taken from a library because it is small and the project
 * must compute it identically in every process (meyda, for one, caches its filter bank globally).
 */

export const WINDOW = 400; // 25 ms
export const HOP = 160; // 10 ms
const FFT_SIZE = 512;
const LOG_FLOOR = 1e-10;

const hzToMel = (hz: number) => 2595 * Math.log10(1 + hz / 700);
const melToHz = (mel: number) => 700 * (10 ** (mel / 2595) - 1);

/** Triangular filters, [band][bin] as (first bin, weights). */
function melFilterBank(
  bands: number,
  fftSize: number,
  sampleRate: number,
): { start: number; weights: Float64Array }[] {
  const bins = fftSize / 2 + 1;
  const top = hzToMel(sampleRate / 2);
  const edges = Array.from({ length: bands + 2 }, (_, i) => melToHz((top * i) / (bands + 1)));
  const binHz = sampleRate / fftSize;
  return Array.from({ length: bands }, (_, b) => {
    const [lo, mid, hi] = [edges[b] as number, edges[b + 1] as number, edges[b + 2] as number];
    const start = Math.max(0, Math.floor(lo / binHz));
    const end = Math.min(bins - 1, Math.ceil(hi / binHz));
    const weights = new Float64Array(end - start + 1);
    for (let k = start; k <= end; k++) {
      const hz = k * binHz;
      weights[k - start] = Math.max(0, Math.min((hz - lo) / (mid - lo), (hi - hz) / (hi - mid)));
    }
    return { start, weights };
  });
}

export class SpectralAnalyzer {
  readonly #fft = new FFT(FFT_SIZE);
  readonly #window = Float64Array.from(
    { length: WINDOW },
    (_, n) => 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / WINDOW),
  );
  readonly #bank = melFilterBank(MEL_BANDS, FFT_SIZE, AUDIO_SAMPLE_RATE);
  readonly #dct: Float64Array[];
  readonly #frame = new Array<number>(FFT_SIZE).fill(0);
  readonly #spectrum: number[];
  readonly #power = new Float64Array(FFT_SIZE / 2 + 1);

  constructor() {
    this.#spectrum = this.#fft.createComplexArray() as number[];
    this.#dct = Array.from({ length: MFCC_COEFFS }, (_, k) =>
      Float64Array.from(
        { length: MEL_BANDS },
        (_, n) =>
          Math.cos((Math.PI * k * (2 * n + 1)) / (2 * MEL_BANDS)) * Math.sqrt((k === 0 ? 1 : 2) / MEL_BANDS),
      ),
    );
  }

  /** Log-mel (MEL_BANDS) and MFCC (MFCC_COEFFS) of the window starting at `offset` in `samples`. */
  frame(samples: Float32Array, offset: number, logMel: Float64Array, mfcc: Float64Array): void {
    for (let n = 0; n < WINDOW; n++)
      this.#frame[n] = (samples[offset + n] ?? 0) * (this.#window[n] as number);
    this.#fft.realTransform(this.#spectrum, this.#frame);
    for (let k = 0; k <= FFT_SIZE / 2; k++) {
      const re = this.#spectrum[2 * k] as number;
      const im = this.#spectrum[2 * k + 1] as number;
      this.#power[k] = re * re + im * im;
    }
    this.#bank.forEach(({ start, weights }, b) => {
      let e = 0;
      for (let i = 0; i < weights.length; i++)
        e += (weights[i] as number) * (this.#power[start + i] as number);
      logMel[b] = Math.log(Math.max(e, LOG_FLOOR));
    });
    this.#dct.forEach((basis, k) => {
      let c = 0;
      for (let n = 0; n < MEL_BANDS; n++) c += (basis[n] as number) * (logMel[n] as number);
      mfcc[k] = c;
    });
  }
}
