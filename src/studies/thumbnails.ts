import { thumbnail } from './probe.js';

/**
 * Stimulus frames for the study view's top moments, made once per (study, position) and kept in a
 * bounded cache: every open study view asks for the same few frames every time it redraws, and each
 * one would otherwise cost an ffmpeg process.
 */
export class ThumbnailCache {
  readonly #frames = new Map<string, Promise<Buffer>>();
  readonly #max: number;

  constructor(max = 256) {
    this.#max = max;
  }

  get(path: string, seconds: number): Promise<Buffer> {
    const key = `${path}@${seconds}`;
    let frame = this.#frames.get(key);
    if (!frame) {
      frame = thumbnail(path, seconds);
      // A failure is not cached: the next request tries again.
      frame.catch(() => this.#frames.delete(key));
      this.#frames.set(key, frame);
      while (this.#frames.size > this.#max) this.#frames.delete(this.#frames.keys().next().value as string);
    }
    return frame;
  }

  /** A deleted or replaced stimulus: forget its frames. */
  forget(path: string): void {
    for (const key of this.#frames.keys()) if (key.startsWith(`${path}@`)) this.#frames.delete(key);
  }
}
