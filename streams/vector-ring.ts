/**
 * The last `capacity` vectors of width `width`, oldest first on read. Storage grows on demand (doubling)
 * up to the capacity, so a long history bound costs memory only once a session is that long.
 */
export class VectorRing {
  readonly width: number;
  readonly capacity: number;
  #data: Float32Array;
  #next = 0;
  #count = 0;

  constructor(width: number, capacity: number) {
    this.width = width;
    this.capacity = capacity;
    this.#data = new Float32Array(width * Math.min(capacity, 64));
  }

  get length(): number {
    return this.#count;
  }

  get #allocated(): number {
    return this.#data.length / this.width;
  }

  push(vector: Float32Array): void {
    if (this.#count === this.#allocated && this.#count < this.capacity) {
      // Not wrapped yet (count < capacity), so the data is in order from 0 and copies over as is.
      const grown = new Float32Array(this.width * Math.min(this.capacity, this.#allocated * 2));
      grown.set(this.#data);
      this.#data = grown;
      this.#next = this.#count;
    }
    this.#data.set(vector.subarray(0, this.width), this.#next * this.width);
    this.#next = (this.#next + 1) % this.#allocated;
    this.#count = Math.min(this.#allocated, this.#count + 1);
  }

  /** The last `n` (default all) vectors, oldest first, as one [n, width] array. */
  last(n = this.#count): Float32Array {
    const size = this.#allocated;
    const take = Math.min(n, this.#count);
    const out = new Float32Array(take * this.width);
    const start = (this.#next - take + size) % size;
    const firstRun = Math.min(take, size - start);
    out.set(this.#data.subarray(start * this.width, (start + firstRun) * this.width), 0);
    if (firstRun < take)
      out.set(this.#data.subarray(0, (take - firstRun) * this.width), firstRun * this.width);
    return out;
  }
}
