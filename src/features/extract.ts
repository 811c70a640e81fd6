import { DEFAULT_ANALYSIS_SIZE } from '../contracts/media-step.js';
import { type DecodeCallbacks, decodeMedia, type MediaInput } from './decode.js';
import { type FeaturizedStep, SessionFeaturizer } from './featurizer.js';
import type { FeaturePool } from './pool.js';

/**
 * Feature steps of a media file, URL or stream, in order, with a bounded number of steps in flight
 * (so a 1-hour video runs in bounded memory while both workers stay busy).
 */

export interface ExtractOptions extends DecodeCallbacks {
  rateHz?: number;
  /** Analysis frame size (frames are letterboxed into it). */
  width?: number;
  height?: number;
  /** Steps analysed concurrently; defaults to twice the pool's workers. */
  inFlight?: number;
}

export async function* extractFeatures(
  input: MediaInput,
  pool: FeaturePool,
  options: ExtractOptions = {},
): AsyncGenerator<FeaturizedStep> {
  const width = options.width ?? DEFAULT_ANALYSIS_SIZE.width;
  const height = options.height ?? DEFAULT_ANALYSIS_SIZE.height;
  const featurizer = new SessionFeaturizer(pool, { width, height });
  const inFlight = Math.max(1, options.inFlight ?? pool.workers * 2);
  const pending: Promise<FeaturizedStep>[] = [];
  try {
    for await (const step of decodeMedia(
      input,
      {
        rateHz: options.rateHz ?? featurizer.spec.rateHz ?? 10,
        width,
        height,
        frameBuffers: pool.frameBuffers,
      },
      options,
    )) {
      pending.push(featurizer.featurize(step));
      if (pending.length >= inFlight) yield await (pending.shift() as Promise<FeaturizedStep>);
    }
    while (pending.length > 0) yield await (pending.shift() as Promise<FeaturizedStep>);
  } finally {
    // On an early exit or error, let in-flight work settle so nothing rejects unobserved.
    await Promise.allSettled(pending);
  }
}
