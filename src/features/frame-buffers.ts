/**
 * Frame-sized byte buffers, filled again instead of allocated anew. A live session's decoder hands ~0.9 MB
 * a frame to the feature workers ten times a second; as fresh allocations that is tens of MB/s of
 * memory outside V8's heap, and V8 answers that external memory pressure with full garbage collections
 * in the main thread and in every worker (about 2.5 a second at 8 sessions). The feature pool's workers
 * send each frame's buffer back once they are done with it, and the decoders take their next frame's
 * buffer from here.
 *
 * Only buffers nothing else refers to come back (a transferred buffer is the receiver's alone), so a
 * buffer handed out is never in two frames at once. The free list is bounded: buffers past it are left
 * to the garbage collector, so a burst costs no lasting memory.
 */
export class FrameBuffers {
  readonly #free = new Map<number, Uint8Array[]>();
  readonly #maxFree: number;
  #count = 0;
  /** Buffers handed out again instead of allocated (for tests and metrics). */
  reused = 0;

  constructor(maxFree = 32) {
    this.#maxFree = maxFree;
  }

  /** A buffer of `bytes` bytes; its contents are whatever it last held. */
  acquire(bytes: number): Uint8Array {
    const buffer = this.#free.get(bytes)?.pop();
    if (!buffer) return new Uint8Array(bytes);
    this.#count--;
    this.reused++;
    return buffer;
  }

  /** Takes back a buffer the caller no longer uses; only whole-buffer views are kept. */
  release(buffer: Uint8Array): void {
    if (this.#count >= this.#maxFree) return;
    if (buffer.byteOffset !== 0 || buffer.byteLength !== buffer.buffer.byteLength) return;
    if (buffer.byteLength === 0) return;
    let list = this.#free.get(buffer.byteLength);
    if (!list) {
      list = [];
      this.#free.set(buffer.byteLength, list);
    }
    list.push(buffer);
    this.#count++;
  }

  /** Buffers waiting to be reused. */
  get free(): number {
    return this.#count;
  }
}
